"""Attribute checks as FastAPI dependencies: `Depends(require_attributes(Requirement(...)))` on any command.

The facts come from the investor's own aggregates (current KYC status and tier, residency, category), so a
token minted before KYC was verified does not hold a stale answer.
"""

from __future__ import annotations

from collections.abc import Callable

from bondflow.api.deps import ContainerDep, CurrentPrincipal
from bondflow.domain.policy import Requirement, check_attributes
from bondflow.security.principal import Principal


def require_attributes(requirement: Requirement) -> Callable[[Principal, ContainerDep], Principal]:
    def check(principal: CurrentPrincipal, container: ContainerDep) -> Principal:
        check_attributes(container.investors.attributes.of(principal), requirement)
        return principal

    return check
