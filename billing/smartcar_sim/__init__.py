"""A Smartcar simulator speaking the v2 wire protocol, for development, the demo, end-to-end
tests and benchmarks. It shares no code with our Smartcar client, so it can check it.

Endpoints (Connect, auth and API share one origin):

- `GET /oauth/authorize` auto-consents and redirects with `code` and `state` (or `error`,
  `error_description`, `state` for `sim_error=access_denied|vehicle_incompatible|no_vehicles`).
  `sim_vehicles=N` sizes the new user (default 1), `sim_user=<id>` reconnects an existing
  one (same vehicle ids), `sim_history_days=D` backdates the grant, `sim_timezone=<zone>`
  sets the vehicles' zone. Scopes may be prefixed `required:`. Unknown client → 400 page.
- `POST /oauth/token` (Basic client auth, `User-Agent` required): `authorization_code` and
  `refresh_token` grants. Every refresh rotates; within the grace window the old refresh
  token returns the same pair again, then `invalid_grant` (see `accounts`).
- `GET /v2.0/vehicles?limit=&offset=`, `GET /v2.0/user`, `GET /v2.0/vehicles/{id}`,
  `GET /v2.0/vehicles/{id}/tesla/charge/records?startDate=&endDate=` (see `api`, `data`).
  Every path answers with or without a trailing slash, as Smartcar does.
- Errors are v2 bodies with every documented field (`resolution` always an object with a
  `type`); faults can also answer in the v3 envelope (`v3:TYPE[:CODE]`), the v1.0 shape
  (`legacy_json`) or as a gateway page. There is no per-vehicle throttle unless
  `vehicle_min_interval_s` is set (Smartcar publishes none).
- `/sim/*` (not counted, not limited): `GET /sim/stats`, `POST /sim/stats/reset`,
  `GET|POST /sim/users`, `POST /sim/users/{id}/revoke`, `GET /sim/vehicles`,
  `GET|POST|DELETE /sim/faults`, `POST /sim/token-faults`, `GET|POST /sim/clock`.
"""

from billing.smartcar_sim.data import DayEnergy, VehicleProfile
from billing.smartcar_sim.faults import SPECIAL_KINDS, TOKEN_FAULT_KINDS, TokenFaultKind
from billing.smartcar_sim.options import SimulatorOptions
from billing.smartcar_sim.server import run_simulator
from billing.smartcar_sim.simulator import Simulator, SimUser
from billing.smartcar_sim.stats import NO_ANSWER, RecordCall, SimStats
from billing.smartcar_sim.wire import ERROR_TYPES

__all__ = [
    "ERROR_TYPES",
    "NO_ANSWER",
    "SPECIAL_KINDS",
    "TOKEN_FAULT_KINDS",
    "DayEnergy",
    "RecordCall",
    "SimStats",
    "SimUser",
    "Simulator",
    "SimulatorOptions",
    "TokenFaultKind",
    "VehicleProfile",
    "run_simulator",
]
