"""TLP 2.0 as the formats name it: the OASIS STIX 2.1 marking definitions (which `stix2` does not ship, it knows
only TLP 1.0) and MISP's `tlp` taxonomy tags. Pure data: no STIX or MISP library here."""

from __future__ import annotations

from dataclasses import dataclass

from signalement.domain.members import Tlp

# The OASIS TLP 2.0 extension for STIX 2.1 marking definitions, from
# https://github.com/oasis-open/cti-stix-common-objects/tree/main/extension-definition-specifications/tlp-2.0
# (extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d.json, and the published objects under
# objects/marking-definition/): fixed ids, `created` 2022-10-01, names "TLP:…", property `tlp_2_0`.
EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
CREATED = "2022-10-01T00:00:00.000Z"


@dataclass(frozen=True)
class StixMarking:
    id: str
    name: str
    tlp_2_0: str

    def as_dict(self) -> dict[str, object]:
        """The marking-definition object exactly as OASIS publishes it."""
        return {
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": self.id,
            "created": CREATED,
            "name": self.name,
            "extensions": {EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": self.tlp_2_0}},
        }


STIX_MARKINGS: dict[Tlp, StixMarking] = {
    Tlp.CLEAR: StixMarking("marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", "TLP:CLEAR", "clear"),
    Tlp.GREEN: StixMarking("marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", "TLP:GREEN", "green"),
    Tlp.AMBER: StixMarking("marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", "TLP:AMBER", "amber"),
    Tlp.AMBER_STRICT: StixMarking(
        "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", "TLP:AMBER+STRICT", "amber+strict"
    ),
    Tlp.RED: StixMarking("marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", "TLP:RED", "red"),
}


def misp_tag(tlp: Tlp) -> str:
    """The tag of MISP's `tlp` taxonomy (version with TLP 2.0: tlp:clear, tlp:amber+strict)."""
    return f"tlp:{tlp.value}"


def most_restrictive(levels: list[Tlp]) -> Tlp:
    return max(levels, key=lambda t: t.rank)
