"""Can the framework enforce a verb's required permission? Asked once, at start-up.

On the libafb host the framework checks a verb's `auth` (its required permission) with
its permission backend: Cynagora on redpesk, or a `perm/check` API. A framework built
without one (libafb's WITHOUT_CYNAGORA) grants every permission, logged as a notice only.
Serving a permission that nobody enforces would run privileged commands for anyone, so
the host asks the backend about a permission no one holds: granted means nothing is
enforced, and a config requiring a permission is refused (fail closed, as a sandbox
setting that cannot be applied). No answer in time counts as not enforced.
"""
from __future__ import annotations

import asyncio
from collections.abc import Iterable

from afbspawn.afb.libafb.glue import Glue

PROBE_PERMISSION = "urn:afb-spawn:probe:held-by-nobody"
PROBE_CLIENT = "afb-spawn-probe"  # the security label of the client asking
PROBE_USER = "65534"  # nobody
PROBE_SECONDS = 10.0


async def backend_enforces(glue: Glue, timeout: float = PROBE_SECONDS) -> bool:
    """True when the backend denies the permission nobody holds (libafb's loop must run)."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[int] = loop.create_future()

    def settle(status: int) -> None:
        if not answer.done():
            answer.set_result(status)

    glue.check_permission(PROBE_CLIENT, PROBE_USER, PROBE_PERMISSION,
                          lambda status: loop.call_soon_threadsafe(settle, status))
    glue.wakeup()
    try:
        return await asyncio.wait_for(answer, timeout) <= 0
    except TimeoutError:
        return False


def refusal(permissions: Iterable[str]) -> str:
    """The one-line reason a config requiring `permissions` is not served."""
    names = sorted(set(permissions))
    return (f"{'permission' if len(names) == 1 else 'permissions'} {', '.join(names)} cannot be enforced: this AFB framework has no permission backend "
            "(built without Cynagora, it grants every permission); install Cynagora, or serve the "
            "config on the embedded host with --permissions")
