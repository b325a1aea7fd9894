"""Message templates: every construct and filter, the errors, the limits, hostile
templates and hostile contexts, and properties over random templates and contexts."""

from __future__ import annotations

import contextlib
import copy
import re
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ecrm
from ecrm import Template, TemplateError, ValidationError
from ecrm.domain.templates import MAX_ITERATIONS, MAX_LOOP, MAX_OUTPUT

JST = timezone(timedelta(hours=9))
CUSTOMER = {"name": "hanako yamada", "email": "hanako@example.jp", "points": 12345,
            "nickname": None, "tier": "gold", "birthday": date(1990, 6, 1),
            "address": {"prefecture": "東京都", "city": None}}
CONTEXT = {
    "customer": CUSTOMER,
    "items": [{"sku": "TEA-01", "name": "Sencha", "price": Decimal("1500")},
              {"sku": "CUP-02", "name": "Cup", "price": Decimal("12.5")}],
    "coupon": "WELCOME10",
    "sent_at": datetime(2026, 6, 1, 9, 5, 7, tzinfo=JST),
    "empty": [],
    "tags": ("tea", "cups"),
}


def render(source: str, context: dict[str, object] | None = None, **options: bool) -> str:
    return Template.parse(source, **options).render(CONTEXT if context is None else context)


def error_of(source: str, context: dict[str, object] | None = None) -> str:
    with pytest.raises(ValidationError) as caught:
        render(source, context)
    return str(caught.value)


# -- output and paths ---------------------------------------------------------------------

@pytest.mark.parametrize(("source", "expected"), [
    ("Hello {{ customer.name }}!", "Hello hanako yamada!"),
    ("{{ items[1].sku }}", "CUP-02"),
    ("{{ customer.address.prefecture }}", "東京都"),
    ("{{ tags[0] }}", "tea"),
    ("[{{ customer.nickname }}]", "[]"),
    ("{{ customer.points }}", "12345"),
    ("{{ items[1].price }}", "12.5"),
    ("{{ true }} {{ false }} {{ none }}", "true false "),
    ("{{ 'it\\'s' }}", "it's"),
    ('{{ "say \\"hi\\"\\n" }}', 'say "hi"\n'),
    ("{{ '\\u3042' }}", "あ"),
    ("{{ -3 }} {{ 2.50 }}", "-3 2.50"),
    ("{{ customer.birthday }}", "1990-06-01"),
    ("{{ sent_at }}", "2026-06-01T09:05:07+09:00"),
    ("{{ 0.5 | number }}", "0.5"),
])
def test_output(source: str, expected: str) -> None:
    assert render(source) == expected


def test_a_float_prints_as_python_writes_it() -> None:
    assert render("{{ x }}", {"x": 0.1}) == "0.1"


@pytest.mark.parametrize("source", ["{{ items }}", "{{ customer }}"])
def test_lists_and_mappings_do_not_print(source: str) -> None:
    assert "cannot be printed; loop over it" in error_of(source)


def test_a_path_through_a_value_that_is_not_a_mapping_or_list_is_an_error() -> None:
    assert error_of("{{ coupon.code }}") == (
        "template: line 1, column 4: coupon.code: .code needs a mapping, got text")
    assert error_of("{{ customer[0] }}") == (
        "template: line 1, column 4: customer[0]: [0] needs a list, got mapping")


# -- undefined and default ----------------------------------------------------------------

def test_an_undefined_path_names_itself_and_its_place() -> None:
    assert error_of("Dear\n  {{ customer.nmae }}") == (
        "template: line 2, column 6: undefined: customer.nmae")


@pytest.mark.parametrize("source", ["{{ missing }}", "{{ items[5].sku }}",
                                    "{% if missing %}x{% endif %}",
                                    "{{ missing | upper }}", "{{ missing == 1 }}",
                                    "{% for x in missing %}{% endfor %}"])
def test_every_use_of_an_undefined_path_raises(source: str) -> None:
    assert "undefined: " in error_of(source)


@pytest.mark.parametrize(("source", "expected"), [
    ("{{ customer.nmae | default('お客様') }}", "お客様"),
    ("{{ customer.nickname | default('お客様') }}", "お客様"),
    ("{{ blank | default('お客様') }}", "お客様"),
    ("{{ customer.name | default('お客様') | upper }}", "HANAKO YAMADA"),
    ("{{ customer.address.city.ward | default('-') }}", "-"),
    ("{{ nope | default(coupon) }}", "WELCOME10"),
    ("{{ nope | default(none) }}", ""),
    ("{{ zero | default(5) }}", "0"),
])
def test_default(source: str, expected: str) -> None:
    assert render(source, {**CONTEXT, "blank": "", "zero": 0}) == expected


def test_the_fallback_of_default_must_itself_be_defined() -> None:
    assert error_of("{{ nope | default(other) }}") == (
        "template: line 1, column 19: undefined: other")


# -- filters ------------------------------------------------------------------------------

@pytest.mark.parametrize(("source", "expected"), [
    ("{{ customer.name | upper }}", "HANAKO YAMADA"),
    ("{{ 'ABC' | lower }}", "abc"),
    ("{{ customer.name | title }}", "Hanako Yamada"),
    ("[{{ '  x ' | trim }}]", "[x]"),
    ("{{ customer.name | truncate(6) }}", "hanak…"),
    ("{{ 'short' | truncate(5) }}", "short"),
    ("{{ 1234 | yen }}", "¥1,234"),
    ("{{ -1234 | yen }}", "-¥1,234"),
    ("{{ items[0].price | money }}", "¥1,500"),
    ("{{ items[1].price | money('USD') }}", "$12.50"),
    ("{{ 1234.5 | money('EUR') }}", "€1,234.50"),
    ("{{ 1234.5 | money('CHF') }}", "1,234.50 CHF"),
    ("{{ 0.5 | yen }}", "¥0"),
    ("{{ 2.5 | money('JPY') }}", "¥2"),
    ("{{ customer.points | number }}", "12,345"),
    ("{{ 1234.567 | number(2) }}", "1,234.57"),
    ("{{ 1234.5 | number(0) }}", "1,234"),
    ("{{ customer.birthday | date }}", "1990-06-01"),
    ("{{ customer.birthday | date('%Y年%m月%d日') }}", "1990年06月01日"),
    ("{{ customer.birthday | date('%Y年%-m月%-d日(%J)') }}", "1990年6月1日(金)"),
    ("{{ sent_at | date('%a %d %b %Y, %H:%M:%S') }}", "Mon 01 Jun 2026, 09:05:07"),
    ("{{ sent_at | date('%A %B %y %-H時 %I%p 100%%') }}", "Monday June 26 9時 09AM 100%"),
    ("{{ '<a href=\"x\">&' | escape }}", "&lt;a href=&quot;x&quot;&gt;&amp;"),
    ("{{ \"'\" | e }}", "&#x27;"),
    ("{{ items | length }} {{ coupon | length }} {{ customer.address | length }}", "2 9 2"),
    ("{{ tags | join(', ') }}", "tea, cups"),
    ("{{ tags | join }}", "teacups"),
    ("{{ tags | first }} {{ tags | last }} {{ coupon | first }}", "tea cups W"),
    ("[{{ empty | first }}]", "[]"),
    ("{{ items | first | length }}", "3"),
])
def test_filters(source: str, expected: str) -> None:
    assert render(source) == expected


@pytest.mark.parametrize(("source", "message"), [
    ("{{ coupon | yen }}", "line 1, column 13: money expects a number, got text"),
    ("{{ true | number }}", "number expects a number, got true/false"),
    ("{{ coupon | date }}", "date expects a date or a datetime, got text"),
    ("{{ customer.birthday | date('%H') }}", "%H needs a datetime, got a date"),
    ("{{ coupon | join }}", "join expects a list, got text"),
    ("{{ 3 | length }}", "length expects text, a list or a mapping, got number"),
    ("{{ items | join }}", "a mapping cannot be printed"),
])
def test_a_filter_refuses_a_value_it_cannot_handle(source: str, message: str) -> None:
    assert message in error_of(source)


@pytest.mark.parametrize(("source", "message"), [
    ("{{ x | evil }}", "line 1, column 8: unknown filter 'evil'; the filters are date, "),
    ("{{ x | truncate }}", "truncate takes 1 argument(s), got 0"),
    ("{{ x | upper(1) }}", "upper takes 0 argument(s), got 1"),
    ("{{ x | truncate(0) }}", "truncate: expected a whole number from 1 to 100,000, got 0"),
    ("{{ x | truncate('3') }}", "truncate: expected a whole number"),
    ("{{ x | money('XYZ') }}", "money: 'XYZ' is not an ISO 4217 currency code"),
    ("{{ x | number(11) }}", "number: expected a whole number from 0 to 10"),
    ("{{ x | date(3) }}", "date: expected a quoted format"),
    ("{{ x | date('%c') }}", "date: '%c' is not a known directive"),
    ("{{ x | date('%-Y') }}", "date: '%-Y' is not a known directive"),
    ("{{ x | date('%') }}", "date: '%' is not a known directive"),
    ("{{ x | join(coupon) }}", "expected a literal value"),
    ("{{ x | default }}", "default takes 1 argument(s), got 0"),
])
def test_filter_calls_are_checked_when_parsing(source: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        Template.parse(source)
    assert message in str(caught.value)


# -- if -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("condition", "holds"), [
    ("customer.points > 10000", True),
    ("customer.points <= 10000", False),
    ("customer.tier == 'gold'", True),
    ("customer.tier != 'gold'", False),
    ("customer.points >= 12345.0", True),
    ("items[1].price < 13", True),
    ("'b' < 'c'", True),
    ("'東京' in customer.address.prefecture", True),
    ("'tea' in tags", True),
    ("'tea' not in tags", False),
    ("'Cup' in mixed", True),
    ("'Sencha' in mixed", False),
    ("'city' in customer.address", True),
    ("'nickname' in customer and not customer.nickname", True),
    ("customer.nickname or coupon", True),
    ("empty or none or 0 or '' or false", False),
    ("not (customer.points > 10 and customer.tier == 'silver')", True),
    ("1 == true", False),
    ("none == none", True),
    ("items | length == 2", True),
])
def test_conditions(condition: str, holds: bool) -> None:
    context = {**CONTEXT, "mixed": [CONTEXT["items"][0], ["Sencha"], "Cup"]}
    rendered = render(f"{{% if {condition} %}}yes{{% else %}}no{{% endif %}}", context)
    assert rendered == ("yes" if holds else "no")


def test_elif_takes_the_first_branch_that_holds() -> None:
    source = ("{% if customer.points > 50000 %}platinum{% elif customer.points > 10000 %}gold"
              "{% elif customer.points > 0 %}silver{% else %}none{% endif %}")
    assert render(source) == "gold"
    assert render(source, {"customer": {"points": 0}}) == "none"
    assert render(source, {"customer": {"points": 1}}) == "silver"


@pytest.mark.parametrize(("condition", "message"), [
    ("coupon < 3", "cannot compare text with number using <"),
    ("customer.birthday > sent_at", "cannot compare date with datetime using >"),
    ("items < items", "< compares single values, not lists or mappings"),
    ("items == items", "== compares single values, not lists or mappings"),
    ("customer != none", "!= compares single values"),
    ("tags in items", "'in' needs a single value on its left, got list"),
    ("3 in coupon", "'in' text needs text on its left, got number"),
    ("'a' in 3", "'in' needs text, a list or a mapping on its right, got number"),
])
def test_comparisons_of_unlike_values_are_errors(condition: str, message: str) -> None:
    assert message in error_of(f"{{% if {condition} %}}{{% endif %}}")


# -- for ----------------------------------------------------------------------------------

def test_for_with_loop_counters() -> None:
    source = ("{% for item in items %}{{ loop.index }}/{{ loop.length }} {{ item.name }}"
              "{% if loop.first %} (first){% endif %}{% if not loop.last %}, {% endif %}"
              "{% endfor %}")
    assert render(source) == "1/2 Sencha (first), 2/2 Cup"


def test_for_else_renders_when_the_list_is_empty() -> None:
    source = "{% for x in empty %}{{ x }}{% else %}nothing{% endfor %}"
    assert render(source) == "nothing"
    assert render(source, {"empty": ["a"]}) == "a"


def test_nested_loops_see_their_own_loop_and_the_outer_variable() -> None:
    source = ("{% for row in rows %}{% for cell in row %}{{ loop.index }}{{ cell }}"
              "{{ rows | length }}{% endfor %};{% endfor %}")
    assert render(source, {"rows": [["a", "b"], ["c"]]}) == "1a22b2;1c2;"


def test_a_loop_variable_shadows_the_context_only_inside_the_loop() -> None:
    source = "{% for coupon in tags %}{{ coupon }} {% endfor %}{{ coupon }}"
    assert render(source) == "tea cups WELCOME10"


@pytest.mark.parametrize(("source", "message"), [
    ("{% for x in coupon %}{% endfor %}", "for loops over a list, got text"),
    ("{% for x in customer %}{% endfor %}", "for loops over a list, got mapping"),
    ("{% for loop in items %}{% endfor %}", "'loop' is taken"),
    ("{% for _x in items %}{% endfor %}", "names starting with '_' are not allowed"),
    ("{% for x of items %}{% endfor %}", "expected 'in', found 'of'"),
])
def test_for_errors(source: str, message: str) -> None:
    assert message in error_of(source)


# -- comments, raw text and whitespace ----------------------------------------------------

@pytest.mark.parametrize(("source", "expected"), [
    ("a{# a note {{ x }} #}b", "ab"),
    ("{{ '{{' }} name {{ '}}' }}", "{{ name }}"),
    ("{% raw %}{{ customer.__class__ }}{% if %}{% endraw %}", "{{ customer.__class__ }}{% if %}"),
    ("{ single } and 100% and #", "{ single } and 100% and #"),
    ("a  \n  {{- coupon -}}  \n  b", "aWELCOME10b"),
    ("<ul>\n  {%- for t in tags %}\n  <li>{{ t }}</li>\n  {%- endfor %}\n</ul>",
     "<ul>\n  <li>tea</li>\n  <li>cups</li>\n</ul>"),
    ("a {#- note -#} b", "ab"),
    ("{%- raw -%} x {%- endraw -%}  c", " x c"),
    ("line\n{% if true %}\nyes\n{% endif %}\n", "line\n\nyes\n\n"),
])
def test_comments_raw_and_whitespace(source: str, expected: str) -> None:
    assert render(source) == expected


# -- autoescape ---------------------------------------------------------------------------

def test_autoescape_escapes_every_output_once() -> None:
    context = {"name": "<script>alert('x')</script> & co", "url": "a\"b"}
    source = "<p>{{ name }}</p><a href=\"{{ url }}\">{{ name | e }}</a>"
    expected = ("<p>&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co</p>"
                "<a href=\"a&quot;b\">&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; "
                "&amp; co</a>")
    assert render(source, context, autoescape=True) == expected


def test_without_autoescape_values_are_printed_as_they_are() -> None:
    assert render("{{ x }}", {"x": "<b>"}) == "<b>"


def test_there_is_no_safe_filter() -> None:
    assert "unknown filter 'safe'" in error_of("{{ x | safe }}", {"x": "<b>"})


# -- names --------------------------------------------------------------------------------

def test_names_are_the_context_paths_used() -> None:
    source = ("{{ customer.name | default(customer.email) }}{% for item in items %}"
              "{{ item.sku }}{{ loop.index }}{% endfor %}{% if coupon and points > 3 %}"
              "{{ items[0].sku }}{% endif %}{{ loop }}")
    assert Template.parse(source).names() == {
        "customer.name", "customer.email", "items", "coupon", "points", "items[0].sku",
        "loop"}


# -- parse errors name their place --------------------------------------------------------

@pytest.mark.parametrize(("source", "message"), [
    ("{{ x", "line 1, column 1: '{{' is not closed; end it with '}}'"),
    ("a\nb {% if x ", "line 2, column 3: '{%' is not closed; end it with '%}'"),
    ("{# note", "line 1, column 1: the comment is not closed"),
    ("x\n  {% if x %}", "line 2, column 3: 'if' is not closed; end it with '{% endif %}'"),
    ("{% for x in y %}{% endif %}", "line 1, column 17: unexpected 'endif'; expected 'else' "
                                    "or 'endfor'"),
    ("{% endfor %}", "line 1, column 1: unexpected 'endfor'"),
    ("{% if x %}{% else %}{% elif y %}{% endif %}", "unexpected 'elif'; expected 'endif'"),
    ("{% if x %}{% else y %}{% endif %}", "line 1, column 19: 'else' takes nothing after it"),
    ("{% if x %}{% endif x %}", "'endif' takes nothing after it"),
    ("{% raw %}x", "'raw' is not closed"),
    ("{% %}", "line 1, column 4: expected a tag name"),
    ("{{ }}", "line 1, column 4: expected a value, found the end of the tag"),
    ("{{ 'abc }}", "line 1, column 4: the string is not closed"),
    ("{{ 'a\\q' }}", "line 1, column 6: unknown escape '\\\\q'"),
    ("{{ x y }}", "line 1, column 6: expected the end of the tag, found 'y'"),
    ("{{ a == b == c }}", "expected the end of the tag, found '=='"),
    ("{{ x[y] }}", "expected a list index (a whole number) after '['"),
    ("{{ x[1.5] }}", "expected a list index"),
    ("{{ x.1 }}", "expected a key name after '.'"),
    ("{{ (x }}", "expected ')', found the end of the tag"),
    ("{{ and }}", "expected a value"),
    ("{{ x | 3 }}", "expected a filter name"),
    ("{{ - x }}", "expected a number after '-'"),
    ("{{ x ; y }}", "line 1, column 6: unexpected character ';'"),
    ("{{ 1234567890123456789012345678901 }}", "the number has more than 30 digits"),
])
def test_parse_errors_name_the_line_and_column(source: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        Template.parse(source)
    assert str(caught.value).startswith("template: " + message) or message in str(caught.value)
    assert caught.value.field == "template"


def test_a_template_error_carries_line_and_column() -> None:
    with pytest.raises(TemplateError) as caught:
        Template.parse("Dear {{ customer.name }},\n\nyour {{ points | evil }} points")
    assert (caught.value.line, caught.value.column) == (3, 18)
    assert str(caught.value) == ("template: line 3, column 18: unknown filter 'evil'; the "
                                 "filters are date, default, e, escape, first, join, last, "
                                 "length, lower, money, number, title, trim, truncate, upper, "
                                 "yen")


def test_a_template_must_be_text() -> None:
    with pytest.raises(TemplateError, match="expected a string, got bytes"):
        Template.parse(b"{{ x }}")  # type: ignore[arg-type]


# -- hostile templates --------------------------------------------------------------------

HOSTILE = [
    "{{ ''.__class__ }}",
    "{{ customer.__class__.__mro__ }}",
    "{{ customer._secret }}",
    "{{ _private }}",
    "{{ config }}",
    "{{ self }}",
    "{{ lipsum.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{% include \"/etc/passwd\" %}",
    "{% import os %}",
    "{% from os import path %}",
    "{% extends 'base.html' %}",
    "{% macro x() %}{% endmacro %}",
    "{% set x = 1 %}",
    "{{ customer.name.upper() }}",
    "{{ \"%s\" % customer }}",
    "{{ customer.name | format(customer) }}",
    "{{ customer['__class__'] }}",
    "{{ customer.name | attr('__class__') }}",
    "{{ sent_at | date('%s{0.__class__}') }}",
    "{{ __import__('os') }}",
    "{{ items.pop }}",
    "{{ items.__len__ }}",
    "{{ customer.get }}",
    "{{ customer.items }}",
    "{{ coupon.format }}",
    "{{ range(10) }}",
    "{{ x | map('__class__') }}",
]


@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_templates_are_refused_or_harmless(source: str) -> None:
    try:
        rendered = render(source)
    except ValidationError as error:
        assert "<class" not in str(error) and "<built-in" not in str(error)
        return
    assert "<" not in rendered and "__" not in rendered and "{0" not in rendered, rendered


@pytest.mark.parametrize(("source", "message"), [
    ("{{ ''.__class__ }}", "expected the end of the tag, found '.'"),
    ("{{ customer._secret }}", "names starting with '_' are not allowed: '_secret'"),
    ("{{ config }}", "undefined: config"),
    ("{% include \"/etc/passwd\" %}", "unknown tag 'include'"),
    ("{% set x = 1 %}", "unknown tag 'set'"),
    ("{{ customer.name.upper() }}", "found '('"),
    ("{{ customer.get }}", "undefined: customer.get"),
    ("{{ coupon.format }}", ".format needs a mapping, got text"),
    ("{{ \"%s\" % customer }}", "unexpected character '%'"),
    ("{{ sent_at | date('%s{0.__class__}') }}", "'%s' is not a known directive"),
])
def test_hostile_templates_get_a_plain_reason(source: str, message: str) -> None:
    assert message in error_of(source)


def test_a_date_format_prints_its_braces_literally() -> None:
    assert render("{{ sent_at | date('{0.__class__} %Y') }}") == "{0.__class__} 2026"


# -- limits -------------------------------------------------------------------------------

def test_a_huge_template_is_refused_before_parsing() -> None:
    with pytest.raises(TemplateError, match="is 10,485,760 characters long; at most 65,536"):
        Template.parse(("{{ x }}" * 1_500_000)[:10 * 1024 * 1024])


@pytest.mark.parametrize(("source", "message"), [
    ("{% if x %}" * 17 + "{% endif %}" * 17, "blocks nest deeper than 16 levels"),
    ("{% for x in y %}" * 17 + "{% endfor %}" * 17, "blocks nest deeper than 16 levels"),
    ("{{ " + "not " * 17 + "x }}", "the expression nests deeper than 16 levels"),
    ("{{ " + "(" * 17 + "x" + ")" * 17 + " }}", "the expression nests deeper than 16 levels"),
    ("{{ " + "(" * 5000 + "x" + ")" * 5000 + " }}", "nests deeper than 16 levels"),
    ("{{ " + "x | default(" * 17 + "1" + ")" * 17 + " }}", "nests deeper than 16 levels"),
    ("{{ '" + "a" * 1001 + "' }}", "the string is longer than 1000 characters"),
])
def test_nesting_and_literal_limits(source: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        Template.parse(source)


def test_sixteen_levels_of_nesting_are_allowed() -> None:
    blocks = "{% if true %}" * 16 + "deep" + "{% endif %}" * 16
    expression = "{{ " + "(" * 15 + "1" + ")" * 15 + " }}"
    assert render(blocks + expression) == "deep1"


def test_a_loop_over_too_many_items_stops() -> None:
    big = list(range(MAX_LOOP + 1))
    assert "the loop is over 1,001 items; at most 1,000" in error_of(
        "{% for a in big %}{% endfor %}", {"big": big})
    assert render("{% for a in big %}{% endfor %}ok", {"big": big[:-1]}) == "ok"


def test_nested_loops_stop_after_the_total_iterations() -> None:
    big = list(range(MAX_LOOP))
    source = "{% for a in big %}{% for b in big %}{% for c in big %}x{% endfor %}" \
             "{% endfor %}{% endfor %}"
    message = error_of(source, {"big": big})
    assert f"the loops ran more than {MAX_ITERATIONS:,} times" in message


def test_the_output_size_is_capped() -> None:
    chunk = "x" * 1000
    source = "{% for a in big %}{% for b in big %}{{ chunk }}{% endfor %}{% endfor %}"
    message = error_of(source, {"big": list(range(100)), "chunk": chunk})
    assert f"the output is longer than {MAX_OUTPUT:,} characters" in message


def test_the_work_of_one_rendering_is_capped() -> None:
    body = "{{ e }}" * 200
    source = f"{{% for a in big %}}{{% for b in ten %}}{body}{{% endfor %}}{{% endfor %}}"
    message = error_of(source, {"big": list(range(1000)), "ten": list(range(10)), "e": ""})
    assert "rendering took more than 1,000,000 steps" in message


def test_large_comparisons_and_filters_count_against_the_work() -> None:
    context = {"big": list(range(100)), "huge": list(range(50_000)), "text": "x" * 60_000}
    membership = "{% for a in big %}{% for b in big %}{% if b in huge %}{% endif %}" \
                 "{% endfor %}{% endfor %}"
    joining = "{% for a in big %}{% for b in big %}{{ huge | join | length }}" \
              "{% endfor %}{% endfor %}"
    upper = "{% for a in big %}{% for b in big %}{{ text | upper | length }}" \
            "{% endfor %}{% endfor %}"
    for source in (membership, joining, upper):
        assert "rendering took more than 1,000,000 steps" in error_of(source, context)


def test_constant_time_filters_cost_one_step() -> None:
    context = {"big": list(range(1000)), "huge": list(range(50_000))}
    source = "{% for a in big %}{{ huge | length }}{{ huge | first }}{% endfor %}"
    assert render(source, context) == "500000" * 1000


# -- the context --------------------------------------------------------------------------

class Trap:
    """Fails the test if the renderer touches it in any way."""

    touched: list[str] = []

    def __getattr__(self, name: str) -> object:
        Trap.touched.append(name)
        raise AssertionError("__getattr__ was called")

    def __str__(self) -> str:
        Trap.touched.append("__str__")
        raise AssertionError("__str__ was called")

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        Trap.touched.append("__eq__")
        raise AssertionError("__eq__ was called")

    __hash__ = object.__hash__


class SneakyText(str):
    def upper(self) -> str:  # type: ignore[override]
        raise AssertionError("called")


class SneakyDict(dict):  # type: ignore[type-arg]
    def get(self, *args: object) -> object:  # type: ignore[override]
        raise AssertionError("called")


class TrapZone(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta:
        raise AssertionError("utcoffset was called")


def self_containing() -> list[object]:
    items: list[object] = []
    items.append(items)
    return items


def wide_and_shared() -> list[object]:
    level: list[object] = ["x"]
    for _ in range(20):
        level = [level, level]
    return level


@pytest.mark.parametrize(("context", "message"), [
    ({"customer": Trap()}, "customer is a Trap; a template context holds only str, int, "),
    ({"customer": {"name": Trap()}}, "customer.name is a Trap"),
    ({"items": [1, Trap()]}, "items[1] is a Trap"),
    ({"name": SneakyText("x")}, "name is a SneakyText"),
    ({"customer": SneakyDict()}, "customer is a SneakyDict"),
    ({"customer": {1: "x"}}, "customer: keys must be text, got a int"),
    ({"customer": {Trap(): "x"}}, "customer: keys must be text, got a Trap"),
    ({"f": float("nan")}, "f: NaN and infinity cannot be printed"),
    ({"d": Decimal("Infinity")}, "d: NaN and infinity cannot be printed"),
    ({"n": 10 ** 30}, "n: numbers must stay below 10**30"),
    ({"n": -1e30}, "n: numbers must stay below 10**30"),
    ({"n": Decimal("1E+100000000")}, "n: numbers must stay below 10**30"),
    ({"n": Decimal("1E-31")}, "with at most 30 decimal places"),
    ({"t": datetime(2026, 1, 1)}, "t: datetimes must be timezone-aware"),
    ({"t": datetime(2026, 1, 1, tzinfo=TrapZone())}, "t: datetimes must be timezone-aware"),
    ({"s": {1, 2}}, "s is a set"),
    ({"b": b"x"}, "b is a bytes"),
    ({"loop": self_containing()}, "nests deeper than 32 levels"),
    ({"wide": wide_and_shared()}, "holds more than 100,000 values"),
])
def test_a_context_of_anything_but_plain_values_is_refused(
        context: dict[str, object], message: str) -> None:
    Trap.touched.clear()
    with pytest.raises(ValidationError) as caught:
        Template.parse("{{ customer.name }}").render(context)
    assert caught.value.field == "context"
    assert message in caught.value.message
    assert Trap.touched == []


def test_a_context_must_be_a_mapping() -> None:
    with pytest.raises(ValidationError, match="context: expected a mapping, got a list"):
        Template.parse("x").render([])  # type: ignore[arg-type]


def test_aware_datetimes_with_zoneinfo_and_any_mapping_are_accepted() -> None:
    import types
    context = types.MappingProxyType(
        {"t": datetime(2026, 1, 2, 3, 4, tzinfo=ZoneInfo("Asia/Tokyo"))})
    assert Template.parse("{{ t | date('%Y/%m/%d %H:%M') }}").render(context) == \
        "2026/01/02 03:04"


def test_rendering_does_not_change_the_context() -> None:
    before = copy.deepcopy(CONTEXT)
    render("{% for i in items %}{{ i.name | upper }}{% endfor %}{{ nope | default(1) }}")
    assert before == CONTEXT


# -- the public surface -------------------------------------------------------------------

NUMBER_FILTERS = ["number", "number(2)", "money", "money('USD')", "money('KWD')", "yen",
                  "truncate(3)", "default(1)", "upper", "date", "length", "first"]


@given(st.one_of(st.floats(), st.integers(), st.decimals()), st.sampled_from(NUMBER_FILTERS))
def test_any_number_is_refused_by_the_context_check_or_filtered_cleanly(
        number: object, name: str) -> None:
    with contextlib.suppress(ValidationError):
        assert isinstance(Template(f"{{{{ n | {name} }}}}").render({"n": number}), str)


def test_template_and_template_parse_are_the_same() -> None:
    assert Template("{{ x }}", autoescape=True) == Template.parse("{{ x }}", autoescape=True)
    with pytest.raises(TemplateError):
        Template("{{ x")


def test_template_is_exported_and_a_template_error_is_a_validation_error() -> None:
    assert "Template" in ecrm.__all__ and "TemplateError" in ecrm.__all__
    assert issubclass(ecrm.TemplateError, ecrm.ValidationError)


def test_templates_compare_by_their_text_and_mode() -> None:
    assert Template.parse("{{ x }}") == Template.parse("{{ x }}")
    assert Template.parse("{{ x }}") != Template.parse("{{ x }}", autoescape=True)


# -- properties ---------------------------------------------------------------------------

FRAGMENTS = ["{{", "}}", "{%", "%}", "{#", "#}", "-", "|", ".", "[0]", "(", ")", "'", '"',
             "\\", " ", "\n", "x", "_x", "items", "loop", "if", "elif", "else", "endif",
             "for", "in", "endfor", "raw", "endraw", "not", "and", "or", "==", "<", "1",
             "1.5", "true", "none", "default", "upper", "date", "'%Y'", "truncate(2)", ",",
             "money('USD')", "%", "#", "{", "}", "様"]

KEYS = ["a", "b", "name", "sku"]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10 ** 9, 10 ** 9),
    st.decimals(min_value=-10 ** 6, max_value=10 ** 6, places=2),
    st.floats(min_value=-1e29, max_value=1e29), st.text(max_size=8),
    st.dates(), st.datetimes(timezones=st.just(timezone.utc)))
PLAIN = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.sampled_from(KEYS), inner, max_size=3),
                     max_leaves=12)
CONTEXTS = st.fixed_dictionaries(
    {"a": PLAIN, "items": st.lists(PLAIN, max_size=3)},
    optional={"b": PLAIN, "it": PLAIN, "loop": PLAIN})

PATHS = st.builds(lambda root, steps: root + "".join(steps),
                  st.sampled_from(["a", "b", "items", "it", "loop"]),
                  st.lists(st.sampled_from([".a", ".name", ".index", "[0]", "[1]"]),
                           max_size=2))
LITERALS = st.sampled_from(['"x"', "'<&>'", "0", "3", "1.5", "-2", "true", "false", "none",
                            '""'])
FILTERS = st.sampled_from(["upper", "lower", "title", "trim", "truncate(3)", "money",
                           "money('USD')", "yen", "number", "number(1)", "date",
                           "date('%Y年%-m月%-d日 %H:%M')", "escape", "e", "length",
                           "join(', ')", "first", "last", "default('d')", "default(b)"])
OPERANDS = st.builds(lambda value, filters: " | ".join([value, *filters]),
                     PATHS | LITERALS, st.lists(FILTERS, max_size=2))
COMPARISONS = st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in"])
EXPRESSIONS = st.recursive(OPERANDS, lambda inner: st.one_of(
    st.builds(lambda a, op, b: f"({a}) {op} ({b})", inner, COMPARISONS, inner),
    st.builds(lambda a: f"not ({a})", inner),
    st.builds(lambda a, b: f"{a} and {b}", inner, inner),
    st.builds(lambda a, b: f"({a}) or ({b})", inner, inner)), max_leaves=4)
TEXTS = st.sampled_from(["Hi ", "<b>", " & ", "\n", "様", "}", "{ x }"])
NODES = st.recursive(
    TEXTS | EXPRESSIONS.map(lambda e: "{{ " + e + " }}"),
    lambda body: st.one_of(
        st.builds(lambda c, yes, no: f"{{% if {c} %}}{''.join(yes)}{{% else %}}"
                                     f"{''.join(no)}{{% endif %}}",
                  EXPRESSIONS, st.lists(body, max_size=3), st.lists(body, max_size=2)),
        st.builds(lambda c, yes, no: f"{{% for it in {c} %}}{''.join(yes)}{{% else %}}"
                                     f"{''.join(no)}{{% endfor %}}",
                  PATHS, st.lists(body, max_size=3), st.lists(body, max_size=2))),
    max_leaves=8)
TEMPLATES = st.lists(NODES, max_size=5).map("".join)


@given(st.one_of(st.text(max_size=200),
                 st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join)))
@settings(max_examples=400)
def test_parsing_any_text_raises_nothing_but_a_template_error(source: str) -> None:
    with contextlib.suppress(TemplateError):
        Template.parse(source)


@given(TEMPLATES, CONTEXTS, st.booleans())
@settings(max_examples=400)
def test_rendering_any_template_with_any_plain_context_raises_nothing_else(
        source: str, context: dict[str, object], autoescape: bool) -> None:
    template = Template.parse(source, autoescape=autoescape)
    with contextlib.suppress(TemplateError):
        assert isinstance(template.render(context), str)


STRAIGHT = st.lists(TEXTS | st.just("{{ markup }}")
                    | PATHS.map(lambda path: "{{ " + path + " }}"), max_size=6)


def placeless(template: Template, context: dict[str, object]) -> str:
    """The rendered text, or the error without its place."""
    try:
        return template.render(context)
    except TemplateError as error:
        return "error: " + re.sub(r"line \d+, column \d+: ", "", error.message)


@given(STRAIGHT, CONTEXTS, st.booleans())
@settings(max_examples=300)
def test_text_and_paths_alone_render_as_the_general_renderer_renders_them(
        parts: list[str], context: dict[str, object], autoescape: bool) -> None:
    """Such templates skip the budgets; wrapped in an ``if`` they take the general path."""
    source, context = "".join(parts), {**context, "markup": "<i>&'\""}
    straight = Template.parse(source, autoescape=autoescape)
    general = Template.parse("{% if true %}" + source + "{% endif %}", autoescape=autoescape)
    assert placeless(straight, context) == placeless(general, context)


def test_a_straight_template_still_keeps_the_output_limit() -> None:
    with pytest.raises(TemplateError, match="output is longer than"):
        Template.parse("{{ v }}{{ v }}").render({"v": "x" * (MAX_OUTPUT // 2 + 1)})


@given(st.text().filter(lambda t: not re.search(r"\{[{%#]", t)))
def test_text_without_tags_renders_to_itself(text: str) -> None:
    assert Template.parse(text).render({}) == text
    assert Template.parse(text, autoescape=True).render({}) == text


SAFE_TEXT = st.text(alphabet=st.characters(blacklist_characters="<>&{}%#-"), max_size=10)
OUTPUTS = st.sampled_from(["{{ v }}", "{{ v | upper }}", "{{ v | truncate(4) }}",
                           "{{ v | trim }}", "{{ v | e }}", "{{ w | join(' ') }}",
                           "{{ w | first }}", "{{ v | default('x') }}"])
ENTITY = re.compile(r"&(amp|lt|gt|quot|#x27);")


@given(st.lists(SAFE_TEXT | OUTPUTS, max_size=8).map("".join), st.text(),
       st.lists(st.text(), min_size=1, max_size=3))
def test_autoescaped_output_carries_no_raw_markup_from_values(
        source: str, value: str, values: list[str]) -> None:
    rendered = Template.parse(source, autoescape=True).render({"v": value, "w": values})
    assert not re.search("[<>&]", ENTITY.sub("", rendered))


def pruned(context: dict[str, object], names: frozenset[str]) -> dict[str, object]:
    """Only the parts of ``context`` that the paths in ``names`` reach."""
    result: dict[str, object] = {}
    for name in sorted(names, key=len):
        graft(context, result, re.findall(r"\[\d+\]|[A-Za-z_][A-Za-z0-9_]*", name))
    return result


def graft(source: dict[str, object], target: dict[str, object], steps: list[str]) -> None:
    key, rest = steps[0], steps[1:]
    if key not in source:
        return
    value = source[key]
    if not rest or type(value) is not dict or rest[0].startswith("["):
        target[key] = copy.deepcopy(value)
        return
    branch = target.setdefault(key, {})
    assert isinstance(branch, dict)
    graft(value, branch, rest)


def outcome(template: Template, context: dict[str, object]) -> str:
    try:
        return "ok: " + template.render(context)
    except TemplateError as error:
        return "error: " + str(error)


@given(TEMPLATES, CONTEXTS)
@settings(max_examples=400)
def test_names_cover_every_path_rendering_looks_up(
        source: str, context: dict[str, object]) -> None:
    template = Template.parse(source)
    assert outcome(template, pruned(context, template.names())) == outcome(template, context)
