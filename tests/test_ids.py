"""ecrm's ids sort by creation within a process, which "oldest first" listings rely on."""

from ecrm.domain.ids import new_id


def test_ids_strictly_increase_within_a_process() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_ids_are_version_7_uuids_in_their_canonical_text() -> None:
    import uuid

    for _ in range(1000):
        text = new_id()
        assert uuid.UUID(text).version == 7 and str(uuid.UUID(text)) == text
