"""Start every sandbox the embedded default needs, on consecutive loopback ports."""
from __future__ import annotations

from providers import registry
from providers.sandbox import gaode, gateway, wechat
from providers.sandbox.server import SandboxServer

# The routing sandbox and the positioning gateway (a simulated Traccar) sit apart from the
# supply sandboxes' consecutive offsets.
ROUTE_OFFSET = 9
GATEWAY_OFFSET = 7

# name -> (port offset, factory); the supply sandboxes follow the registry's defaults.
SANDBOXES = {
    "wechat": (0, wechat.create_app),
    **{name: (offset, factory)
       for offset, (name, factory) in enumerate(registry.sandbox_apps().items(), start=1)},
    "route": (ROUTE_OFFSET, gaode.create_app),
    "gateway": (GATEWAY_OFFSET, gateway.create_app),
}
# How many consecutive ports from SANDBOX_PORT_BASE the sandboxes take.
PORT_BLOCK = max(offset for offset, _ in SANDBOXES.values()) + 1


def start_all(port_base: int = 0) -> dict[str, SandboxServer]:
    """Start each sandbox at ``port_base + offset`` (``0`` picks free ports)."""
    servers = {}
    for name, (offset, factory) in SANDBOXES.items():
        servers[name] = SandboxServer(factory(), port=port_base + offset if port_base else 0).start()
    return servers


def settings_for(servers: dict[str, SandboxServer]) -> dict[str, str]:
    """App settings that point the adapters at the running sandboxes."""
    route = {"ROUTE_PROVIDER": "gaode", "ROUTE_BASE_URL": servers["route"].url,
             "ROUTE_KEY": gaode.SANDBOX_KEY} if "route" in servers else {}
    return {"WECHAT_BASE_URL": servers["wechat"].url,
            **registry.settings_for_sandboxes(servers), **route}
