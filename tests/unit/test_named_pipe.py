"""The platform-independent parts of the Windows single-instance transport (core/named_pipe.py):
the per-user pipe name and the owner-only security descriptor. The pipe itself is exercised by
the Windows-only round trip in test_ipc.py."""

from __future__ import annotations

import pytest
from voxtray.core.named_pipe import PIPE_PREFIX, owner_only_sddl, pipe_name

ALICE = "S-1-5-21-3623811015-3361044348-30300820-1013"
BOB = "S-1-5-21-3623811015-3361044348-30300820-1014"


def test_each_user_has_a_pipe_of_their_own() -> None:
    assert pipe_name(ALICE) == pipe_name(ALICE)  # every session of Alice's finds the same one
    assert pipe_name(ALICE) != pipe_name(BOB)
    name = pipe_name(ALICE)
    assert name.startswith("\\\\.\\pipe\\VoxTray-") and name.startswith(PIPE_PREFIX)
    rest = name[len(PIPE_PREFIX) :]
    assert rest.isalnum() and len(name) < 256  # no further backslash, within the name limit
    assert ALICE not in name  # the SID itself is not published in the pipe namespace


def test_the_descriptor_admits_the_user_alone() -> None:
    assert owner_only_sddl(ALICE) == f"O:{ALICE}D:P(A;;GA;;;{ALICE})"
    # P: inherited entries are blocked; no entry for Everyone (WD), SYSTEM (SY) or admins (BA).
    for other in ("WD", "SY", "BA", "AU"):
        assert f";;;{other})" not in owner_only_sddl(ALICE)


@pytest.mark.parametrize(
    "bad",
    ["", "WD", "S-1", f"{ALICE})(A;;GA;;;WD", f"{ALICE};", "s-1-5-21-1", "S-1-5-x"],
)
def test_only_a_sid_goes_into_the_descriptor(bad: str) -> None:
    with pytest.raises(ValueError, match="not a SID"):
        owner_only_sddl(bad)
