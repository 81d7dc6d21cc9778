"""Start every sandbox the embedded default needs, on consecutive loopback ports."""
from __future__ import annotations

from providers import registry
from providers.sandbox import gateway, wechat
from providers.sandbox.server import SandboxServer

# name -> (port offset, factory); the supply sandboxes follow the registry's defaults; the
# positioning gateway (a simulated Traccar) takes the last port of the block.
SANDBOXES = {
    "wechat": (0, wechat.create_app),
    **{name: (offset, factory)
       for offset, (name, factory) in enumerate(registry.sandbox_apps().items(), start=1)},
    "gateway": (7, gateway.create_app),
}


def start_all(port_base: int = 0) -> dict[str, SandboxServer]:
    """Start each sandbox at ``port_base + offset`` (``0`` picks free ports)."""
    servers = {}
    for name, (offset, factory) in SANDBOXES.items():
        servers[name] = SandboxServer(factory(), port=port_base + offset if port_base else 0).start()
    return servers


def settings_for(servers: dict[str, SandboxServer]) -> dict[str, str]:
    """App settings that point the adapters at the running sandboxes."""
    return {"WECHAT_BASE_URL": servers["wechat"].url,
            **registry.settings_for_sandboxes(servers)}
