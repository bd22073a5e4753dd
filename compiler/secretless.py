"""What `wiam discover` finds: long-lived credentials and identities outside the spec, one shape for
every source (the clouds, CI workflows). Only metadata: never a secret's value, nor any part of it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .diagnostics import printable

NEVER_USED = "never"  # the cloud says the credential has not been used (AWS: LastUsedDate null, "N/A")
NOT_READ = "not read"  # the cloud may know, but wiam did not (or could not) ask


@dataclass(frozen=True)
class Credential:
    cloud: str
    target: str  # the spec's target whose account, project or tenant holds it
    kind: str  # e.g. "access_key", "service_account_key", "client_secret", "role", "federated_credential"
    id: str  # the cloud's identifier of it (an access key ID, a key name, a keyId GUID), never its secret
    holder: str  # the user, service account, role or application it belongs to
    long_lived: bool  # a secret or key that works until deleted or it expires (not a trust relationship)
    created: str | None = None  # UTC, YYYY-MM-DDTHH:MM:SSZ
    expires: str | None = None
    last_used: str = NOT_READ  # a UTC time, NEVER_USED or NOT_READ (with why, after a colon)
    last_used_by: str = ""  # where it was last used, as the cloud says (service and region)
    status: str = ""  # e.g. Active, Inactive, disabled
    grants: str = ""  # what the holder may do, as the replacing grant would need it
    remove: str = ""  # the cloud CLI command that deletes it (shell-quoted), for the migration plan

    def __post_init__(self) -> None:  # cloud objects' names are hostile text: printable from here on
        for name, value in asdict(self).items():
            if isinstance(value, str):
                object.__setattr__(self, name, printable(value))

    def key(self) -> tuple:
        return (self.cloud, self.target, self.kind, self.holder, self.id)
