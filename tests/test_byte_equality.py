"""Every seed sample and 3,000 seeded mutations give exactly the outputs recorded before the
lean hot path (issue 14): ack bytes, messages (CloudEvent body, fingerprint, attributes,
occurrence key), the outbox record, quarantine and log fields. The golden digests are in
tests/fixtures/byte_equality.json; `python -m tests.byte_equality --regenerate` rewrites
them, only for a change that is meant to alter an output."""

from __future__ import annotations

import json

from tests import byte_equality


def test_every_case_gives_the_recorded_outputs() -> None:
    golden = json.loads(byte_equality.FIXTURE.read_text())
    assert (golden["seed"], golden["mutations"]) == (byte_equality.SEED, byte_equality.MUTATIONS)
    expected: dict[str, str] = golden["cases"]
    found = byte_equality.compute()
    assert found.keys() == expected.keys()
    differ = [case for case in expected if found[case] != expected[case]]
    if differ:
        first = next(bodies for case, bodies in byte_equality.cases() if case == differ[0])
        outputs = json.dumps(byte_equality.outputs(first), ensure_ascii=False, indent=1)[:4000]
        raise AssertionError(
            f"{len(differ)} of {len(expected)} cases changed, e.g. {differ[:10]}; {differ[0]}:\n{outputs}"
        )
