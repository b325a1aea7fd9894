"""ecrm's ids sort by creation within a process, which "oldest first" listings rely on."""

from ecrm.domain.ids import new_id


def test_ids_strictly_increase_within_a_process() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_ids_are_version_7_uuids() -> None:
    import uuid

    assert uuid.UUID(new_id()).version == 7
