"""Synthetic vehicles and their daily charge records, a pure function of seed, vehicle and day.

Traits follow the vehicle's ordinal (its creation order), so any run with a handful of
vehicles shows every case: ordinal % 3 picks the `date` form (ISO string, UNIX int, UNIX
float), every fifth vehicle (ordinal % 5 == 4) has no Home address, every eighth
(ordinal % 8 == 7) is on Tesla's upgraded integration and answers charge records with
COMPATIBILITY:VEHICLE_NOT_CAPABLE. Each vehicle keeps its own time zone (drawn, or given when
the user is made), which need not be its owner's: a UNIX `date` is midnight in that zone, an
ISO `date` an instant with a time of day within that local day. Energies are drawn per day from a
generator seeded with (seed, vehicle, day), so a re-read returns the same numbers, except on
restated days: about one day in six gets a late revision (an extra session) that appears
once the day is 2-4 days old.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from random import Random
from typing import Any, Literal
from zoneinfo import ZoneInfo

DateForm = Literal["iso", "unix_int", "unix_float"]
Energy = int | float
HISTORY_DAYS = 30
RESTATE_RATE = 1 / 6
_DATE_FORMS: tuple[DateForm, ...] = ("iso", "unix_int", "unix_float")
_ZONES = (
    "Europe/Berlin",
    "America/Los_Angeles",
    "Europe/London",
    "America/New_York",
    "Europe/Vienna",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Europe/Zurich",
)
_MODELS = (("Model 3", 2021), ("Model Y", 2023), ("Model S", 2019), ("Model X", 2022))


@dataclass(frozen=True)
class VehicleProfile:
    """What a simulated vehicle is like; fixed at creation."""

    vehicle_id: str
    ordinal: int
    timezone: str
    has_home: bool
    capable: bool
    date_form: DateForm
    zero_as_float: bool
    model: str
    year: int
    home_rate: float
    other_rate: float
    super_rate: float

    def today(self, now: datetime) -> date:
        return now.astimezone(ZoneInfo(self.timezone)).date()

    def local_day(self, at: datetime) -> date:
        return at.astimezone(ZoneInfo(self.timezone)).date()

    def to_json(self) -> dict[str, Any]:
        return {
            "vehicle_id": self.vehicle_id,
            "ordinal": self.ordinal,
            "timezone": self.timezone,
            "has_home": self.has_home,
            "capable": self.capable,
            "date_form": self.date_form,
            "make": "TESLA",
            "model": self.model,
            "year": self.year,
        }


def make_profile(
    seed: int, ordinal: int, vehicle_id: str, timezone: str | None = None
) -> VehicleProfile:
    """The profile of the `ordinal`-th vehicle created by a simulator with this seed; its
    time zone is drawn unless given."""
    rng = Random(f"{seed}|profile|{vehicle_id}")
    model, year = _MODELS[rng.randrange(len(_MODELS))]
    drawn = _ZONES[rng.randrange(len(_ZONES))]
    if timezone is not None:
        ZoneInfo(timezone)  # an unknown zone fails here, not on the first read
    return VehicleProfile(
        vehicle_id=vehicle_id,
        ordinal=ordinal,
        timezone=timezone or drawn,
        has_home=ordinal % 5 != 4,
        capable=ordinal % 8 != 7,
        date_form=_DATE_FORMS[ordinal % 3],
        zero_as_float=ordinal % 2 == 1,
        model=model,
        year=year,
        home_rate=rng.uniform(0.25, 0.55),
        other_rate=rng.uniform(0.04, 0.12),
        super_rate=rng.uniform(0.02, 0.10),
    )


@dataclass(frozen=True)
class DayEnergy:
    """One day's totals as the simulator serves them on a given date."""

    day: date
    home: Energy
    other: Energy
    super_charger: Energy
    restated: bool

    @property
    def total(self) -> Energy:
        parts = (self.home, self.other, self.super_charger)
        if all(isinstance(part, int) for part in parts):
            return sum(parts)
        return round(sum(parts), 3)


def _kwh(rng: Random, low: float, high: float) -> Energy:
    # Some values arrive as whole numbers (ints on the wire), most with 1-3 decimals.
    decimals = rng.choice((0, 1, 2, 3, 3))
    value = round(rng.uniform(low, high), decimals)
    return int(value) if decimals == 0 else value


def _add(a: Energy, b: Energy) -> Energy:
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    return round(a + b, 3)


def day_energy(profile: VehicleProfile, seed: int, day: date, today: date) -> DayEnergy:
    """The record of `day` as served on `today` (a restated day changes once it is old)."""
    rng = Random(f"{seed}|day|{profile.vehicle_id}|{day.isoformat()}")
    # Every draw happens on every call, so the numbers never depend on which branch ran.
    home = _kwh(rng, 5, 60)
    other = _kwh(rng, 3, 35)
    super_charger = _kwh(rng, 20, 70)
    late = _kwh(rng, 2, 15)
    has_home, has_other, has_super = (
        rng.random() < profile.home_rate,
        rng.random() < profile.other_rate,
        rng.random() < profile.super_rate,
    )
    restate = rng.random() < RESTATE_RATE
    restate_after = rng.randint(2, 4)
    zero: Energy = 0.0 if profile.zero_as_float else 0
    home = home if has_home else zero
    other = other if has_other else zero
    super_charger = super_charger if has_super else zero
    restated = restate and (today - day).days >= restate_after
    if restated:
        home = _add(home, late)
    if not profile.has_home:
        # Without a Home address, charging at home is counted under "other".
        home, other = zero, _add(other, home)
    return DayEnergy(day, home, other, super_charger, restated)


def iso_instant(profile: VehicleProfile, day: date) -> datetime:
    """The instant an ISO `date` names for `day`: a time of day (with milliseconds, like the
    documented `2022-07-10T15:40:27.000Z`) within the vehicle's local day. It falls between
    08:00 and 13:00 UTC when that is still the local day (every zone from UTC-8 to UTC+11, so
    it is the same day in most owners' zones too), else between 10:00 and 15:00 local time."""
    rng = Random(f"{profile.vehicle_id}|iso|{day.isoformat()}")
    into = timedelta(seconds=rng.randrange(5 * 3600), milliseconds=rng.randrange(1000))
    zone = ZoneInfo(profile.timezone)
    at = datetime.combine(day, time(8), tzinfo=UTC) + into
    if at.astimezone(zone).date() != day:
        at = (datetime.combine(day, time(10), tzinfo=zone) + into).astimezone(UTC)
    return at


def date_value(profile: VehicleProfile, day: date) -> int | float | str:
    """The `date` field in the vehicle's form: midnight in the vehicle's zone as UNIX seconds
    (int or float), or an ISO-8601 UTC instant with a time of day on that local day."""
    if profile.date_form == "iso":
        at = iso_instant(profile, day)
        return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
    midnight = datetime.combine(day, time(), tzinfo=ZoneInfo(profile.timezone)).timestamp()
    return int(midnight) if profile.date_form == "unix_int" else float(midnight)


def first_readable(today: date, granted_day: date) -> date:
    """The oldest day a read can return: 30 days back including today, or the grant day."""
    return max(today - timedelta(days=HISTORY_DAYS - 1), granted_day)


def records(
    profile: VehicleProfile, seed: int, start: date, end: date, today: date
) -> list[dict[str, Any]]:
    """The `records` array for the days `start`..`end` inclusive."""
    out = []
    day = start
    while day <= end:
        energy = day_energy(profile, seed, day, today)
        out.append(
            {
                "date": date_value(profile, day),
                "home": energy.home,
                "other": energy.other,
                "superCharger": energy.super_charger,
                "total": energy.total,
            }
        )
        day += timedelta(days=1)
    return out
