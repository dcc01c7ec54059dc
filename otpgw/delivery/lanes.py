"""Lane names, and which lanes a worker reads.

Shared lanes (``otp`` before ``bulk``) are read by every worker that serves the HTTP
transports: any of them can carry any message, and the router picks the transport per
attempt. A host-bound transport (a modem on one host) has a lane of its own,
``t.<name>``, read only by the worker started with ``--transport <name>``: a message
whose route reaches that transport is moved there, and moved back to its shared lane
if it must fail over to a transport that worker does not own.
"""
from __future__ import annotations

from ..domain.outcomes import Lane

SHARED = tuple(lane.value for lane in Lane)  # in priority order


def host_lane(transport: str) -> str:
    return f"t.{transport}"


def lanes_for(owned_host_bound: list[str], serves_shared: bool, shared: tuple[str, ...] = SHARED) -> list[str]:
    """The lanes a worker reads, in priority order: shared OTP traffic first, then its
    devices' own lanes (which carry OTP traffic too), then bulk. ``shared`` narrows the
    shared lanes (``otpgw worker --lane otp``: a worker for codes only, in a process of its
    own, so a campaign never competes with codes even for CPU)."""
    read = [lane for lane in SHARED if lane in shared] if serves_shared else []
    codes = [lane for lane in read if lane == Lane.OTP.value]
    return codes + [host_lane(name) for name in owned_host_bound] + [lane for lane in read if lane not in codes]
