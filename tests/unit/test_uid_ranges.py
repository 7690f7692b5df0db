"""A jail uid range never includes root or the host's accounts, and is never empty
(tests/integration/test_sandbox_kernel_limits.py: the leases taken from it)."""
import pytest

from sandbox.uids import UidPoolError, UidRange


@pytest.mark.parametrize("first, count", [(0, 10), (1, 10), (65530, 10), (2**32 - 2, 5), (70000, 0)])
def test_a_uid_range_with_root_host_accounts_or_no_ids_is_refused(first, count):
    with pytest.raises(UidPoolError):
        UidRange(first, count).check()
