"""Bearer tokens for the server: the secret, issuing, verifying, authorizing and revoking tokens.

A token is an HS256 JWT signed with a per-server secret kept in the data dir (mode 0600). It
names who holds it (`sub`), the workspaces it reaches (`ws`, or ["*"] for all), a role
(viewer < deployer < admin), and its lifetime. The registry (`tokens.json`) records every token
issued by jti so it can be listed and revoked; it never holds a token string. `AuthError` means
HTTP 401 (who are you?), `Forbidden` means HTTP 403 (you may not do that here).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal, cast, get_args

from caxton import paths
from caxton.agents.model import NAME_HINT, NAME_PATTERN
from caxton.errors import CaxtonError, ExitCode, FileAccessError, NotFoundError, UsageError
from caxton.private_files import check_private, write_private

Role = Literal["viewer", "deployer", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
_RANK: dict[str, int] = {role: rank for rank, role in enumerate(ROLES)}

ALL_WORKSPACES = "*"
ALGORITHM = "HS256"
LEEWAY_SECONDS = 30  # clock skew tolerated between the issuing and the verifying machine
ADMIN_TTL_SECONDS = 365 * 86400
MAX_TTL_SECONDS = 10 * 365 * 86400
MAX_TOKEN_LENGTH = 8192  # far above any token we issue; refuses junk before decoding it

SECRET_FILE = "secret"
REGISTRY_FILE = "tokens.json"
ADMIN_TOKEN_FILE = "admin-token"

_WORKSPACE = re.compile(NAME_PATTERN)
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_TTL = re.compile(r"(\d+)\s*([smhd])")
_TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_TTL_HINT = 'write a whole number and a unit: "30d", "12h", "90m" or "3600s"'


class AuthError(CaxtonError):
    """The request carries no usable credential: HTTP 401."""

    exit_code = ExitCode.UNAVAILABLE  # the server refused us
    http_status = 401


class Forbidden(CaxtonError):
    """A valid token that may not do this, here: HTTP 403."""

    exit_code = ExitCode.UNAVAILABLE
    http_status = 403


@dataclass(frozen=True, slots=True)
class Claims:
    """What a verified token says; holds no part of the token itself."""

    subject: str
    workspaces: tuple[str, ...]
    role: Role
    issued_at: int
    expires_at: int
    jti: str

    def reaches(self, workspace: str) -> bool:
        return ALL_WORKSPACES in self.workspaces or workspace in self.workspaces


def server_dir(data_dir: Path | None = None) -> Path:
    return (data_dir if data_dir is not None else paths.data_dir()) / "server"


# --- files -----------------------------------------------------------------------------------


def load_secret(data_dir: Path | None = None) -> bytes:
    """The server's signing key, created (32 random bytes, hex, mode 0600) on first use."""
    path = server_dir(data_dir) / SECRET_FILE
    if not path.exists():
        try:
            write_private(path, secrets.token_hex(32).encode() + b"\n", exclusive=True)
        except OSError as exc:
            raise FileAccessError(
                f"cannot create the server secret `{path}`: {exc.strerror or exc}",
                "check that the data dir is writable, or pass `--data-dir DIR`",
            ) from exc
    check_private(path)
    try:
        secret = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, UnicodeDecodeError, ValueError):
        secret = b""
    if len(secret) != 32:
        raise FileAccessError(
            f"the server secret `{path}` is unreadable or corrupt (expected 64 hex digits)",
            f"delete `{path}` to make a new one (every token issued so far stops working)",
        )
    return secret


# --- tokens ----------------------------------------------------------------------------------


def parse_ttl(raw: str) -> int:
    """A token lifetime like "30d", "12h", "90m" or "3600s", in seconds."""
    match = _TTL.fullmatch(raw.strip().lower())
    if match is None:
        raise UsageError(f"{raw!r} is not a token lifetime", _TTL_HINT)
    seconds = int(match[1]) * _TTL_UNITS[match[2]]
    if not 0 < seconds <= MAX_TTL_SECONDS:
        raise UsageError(
            f"token lifetime {raw!r} is out of range", "use between 1s and 3650d (ten years)"
        )
    return seconds


def parse_role(raw: str) -> Role:
    if raw not in _RANK:
        raise UsageError(f"unknown role {raw!r}", f"use one of: {', '.join(ROLES)}")
    return cast(Role, raw)


def check_workspaces(workspaces: Iterable[str]) -> tuple[str, ...]:
    """Validated workspace names, or ("*",); an empty list is refused."""
    names = tuple(dict.fromkeys(workspaces))
    if not names:
        raise UsageError(
            "a token must name at least one workspace",
            "pass `--workspace NAME` (repeatable) or `--all-workspaces`",
        )
    if names == (ALL_WORKSPACES,):
        return names
    for name in names:
        if name == ALL_WORKSPACES:
            raise UsageError(
                '"*" (all workspaces) cannot be mixed with workspace names',
                "pass either `--all-workspaces` or `--workspace NAME`",
            )
        if not _WORKSPACE.fullmatch(name):
            raise UsageError(f"{name!r} is not a workspace name", NAME_HINT)
    return names


def issue(
    secret: bytes,
    subject: str,
    workspaces: Sequence[str],
    role: Role,
    ttl_seconds: int,
    *,
    now: float | None = None,
) -> str:
    """A signed token; use `TokenAuthority.issue` to also record it for listing and revoking."""
    return _issue(secret, subject, workspaces, role, ttl_seconds, now=now)[0]


def _issue(
    secret: bytes,
    subject: str,
    workspaces: Sequence[str],
    role: Role,
    ttl_seconds: int,
    *,
    now: float | None,
) -> tuple[str, Claims]:
    import jwt

    if not subject.strip():
        raise UsageError("a token needs a subject", "pass `--subject NAME`")
    issued = int(time.time() if now is None else now)
    claims = Claims(
        subject=subject,
        workspaces=check_workspaces(workspaces),
        role=parse_role(role),
        issued_at=issued,
        expires_at=issued + ttl_seconds,
        jti=secrets.token_hex(12),
    )
    payload = {
        "sub": claims.subject,
        "ws": list(claims.workspaces),
        "role": claims.role,
        "iat": claims.issued_at,
        "exp": claims.expires_at,
        "jti": claims.jti,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM), claims


def _canonical(token: str) -> bool:
    """Three base64url segments with no slack: base64's unused low bits in a segment's last
    character would otherwise let many strings carry the same signature."""
    import base64

    parts = token.split(".")
    if len(parts) != 3 or not all(_SEGMENT.fullmatch(p) for p in parts):
        return False
    for part in parts:
        padded = part + "=" * (-len(part) % 4)
        try:
            raw = base64.urlsafe_b64decode(padded)
        except ValueError:
            return False
        if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != part:
            return False
    return True


VERIFIED_KEPT = 4_096  # verified tokens remembered by a TokenAuthority


def verify(
    secret: bytes,
    token: str,
    *,
    revoked: Iterable[str] = (),
    now: float | None = None,
) -> Claims:
    """The claims of a token this server signed, still valid and not revoked; else AuthError.

    Only HS256 is accepted: `alg=none`, other HMACs and public-key algorithms are refused before
    any signature check, so a public key can never be mistaken for our secret.
    """
    import jwt

    hint = "get a new token with `caxton token create` (or `caxton login`)"
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not _canonical(token):
        raise AuthError("malformed token", hint)
    try:
        header = jwt.get_unverified_header(token)
    except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
        raise AuthError("malformed token", hint) from exc
    if header.get("alg") != ALGORITHM:
        raise AuthError(
            f"token algorithm {header.get('alg')!r} is not accepted (only {ALGORITHM})", hint
        )
    try:
        payload: dict[str, Any] = _decode(jwt, secret, token, now)
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("token expired", hint) from exc
    except jwt.InvalidSignatureError as exc:
        raise AuthError("token signature does not match this server", hint) from exc
    except jwt.ImmatureSignatureError as exc:
        raise AuthError("token issued in the future: check the clocks", hint) from exc
    except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
        raise AuthError("malformed token", hint) from exc
    claims = _claims(payload)
    if claims is None:
        raise AuthError("malformed token claims", hint)
    if claims.jti in set(revoked):
        raise AuthError(f"token {claims.jti} was revoked", hint)
    return claims


def _decode(jwt: Any, secret: bytes, token: str, now: float | None) -> dict[str, Any]:
    # Expiry is checked here rather than by PyJWT so a caller can supply the clock (tests,
    # replays); the signature, the algorithm and the required claims are PyJWT's job.
    result = jwt.decode(
        token,
        secret,
        algorithms=[ALGORITHM],
        options={
            "require": ["sub", "ws", "role", "iat", "exp", "jti"],
            "verify_exp": False,
            "verify_iat": False,
        },
    )
    exp, iat = result.get("exp"), result.get("iat")
    if type(exp) is not int or type(iat) is not int:
        raise ValueError("exp and iat must be integers")
    current = time.time() if now is None else now
    if current > exp + LEEWAY_SECONDS:
        raise jwt.ExpiredSignatureError("expired")
    if iat > current + LEEWAY_SECONDS:
        raise jwt.ImmatureSignatureError("issued in the future")
    return cast(dict[str, Any], result)


def _claims(payload: dict[str, Any]) -> Claims | None:
    sub, ws, role = payload.get("sub"), payload.get("ws"), payload.get("role")
    iat, exp, jti = payload.get("iat"), payload.get("exp"), payload.get("jti")
    if not (isinstance(sub, str) and isinstance(jti, str) and role in _RANK):
        return None
    if not (isinstance(ws, list) and ws and all(isinstance(w, str) for w in ws)):
        return None
    if not (type(iat) is int and type(exp) is int):
        return None
    return Claims(sub, tuple(ws), cast(Role, role), iat, exp, jti)


def authorize(claims: Claims, workspace: str, needed_role: Role) -> None:
    """Raise Forbidden unless the token reaches `workspace` with at least `needed_role`."""
    if not claims.reaches(workspace):
        raise Forbidden(
            f"this token does not reach workspace {workspace!r}",
            "ask an admin for a token with "
            f"`caxton token create --workspace {workspace} --role {needed_role}`",
        )
    if _RANK[claims.role] < _RANK[needed_role]:
        raise Forbidden(
            f"role {claims.role!r} cannot do this in {workspace!r}; it needs {needed_role!r}",
            f"ask an admin for a {needed_role} token for {workspace!r}",
        )


# --- the registry ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """One issued token as the registry keeps it: everything but the token string."""

    jti: str
    subject: str
    workspaces: tuple[str, ...]
    role: Role
    issued_at: int
    expires_at: int
    revoked: bool = False

    def status(self, now: float | None = None) -> Literal["active", "expired", "revoked"]:
        if self.revoked:
            return "revoked"
        return "expired" if (time.time() if now is None else now) > self.expires_at else "active"

    def to_json(self, now: float | None = None) -> dict[str, Any]:
        return {
            "jti": self.jti,
            "subject": self.subject,
            "workspaces": list(self.workspaces),
            "role": self.role,
            "issued_at": _iso(self.issued_at),
            "expires_at": _iso(self.expires_at),
            "revoked": self.revoked,
            "status": self.status(now),
        }


def _iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class TokenAuthority:
    """A server's tokens: its secret plus the registry, both in `data_dir/server/`."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.dir = server_dir(data_dir)
        self.secret = load_secret(data_dir)
        self.registry = self.dir / REGISTRY_FILE
        self._revoked_cache: tuple[tuple[int, int, int], frozenset[str]] | None = None
        self._verified: dict[str, Claims] = {}  # token -> its claims, once verified

    def __repr__(self) -> str:  # never show the secret
        return f"TokenAuthority({str(self.dir)!r})"

    def issue(
        self,
        subject: str,
        workspaces: Sequence[str],
        role: Role,
        ttl_seconds: int,
        *,
        now: float | None = None,
    ) -> tuple[str, TokenRecord]:
        token, claims = _issue(self.secret, subject, workspaces, role, ttl_seconds, now=now)
        record = TokenRecord(
            claims.jti,
            claims.subject,
            claims.workspaces,
            claims.role,
            claims.issued_at,
            claims.expires_at,
        )
        with self._locked():
            records = self._read()
            records.append(record)
            self._write(records)
        return token, record

    def verify(self, token: str, *, now: float | None = None) -> Claims:
        """As `verify()`, remembering the tokens seen: a token already verified costs only
        its expiry and revocation checks (the signature of the same string cannot change)."""
        revoked = self._revoked()
        if now is None:
            claims = self._verified.get(token)
            if claims is not None and time.time() <= claims.expires_at + LEEWAY_SECONDS:
                if claims.jti in revoked:
                    raise AuthError(
                        f"token {claims.jti} was revoked",
                        "get a new token with `caxton token create` (or `caxton login`)",
                    )
                return claims
        claims = verify(self.secret, token, revoked=revoked, now=now)
        if now is None:
            if len(self._verified) >= VERIFIED_KEPT:
                self._verified.clear()  # a burst of new tokens: start again, stay bounded
            self._verified[token] = claims
        return claims

    def list_tokens(self) -> list[TokenRecord]:
        return self._read()

    def revoke(self, jti_or_prefix: str) -> tuple[TokenRecord, bool]:
        """Revoke one token by jti or unambiguous prefix; returns it and whether it changed."""
        wanted = jti_or_prefix.strip()
        if not wanted:
            raise UsageError("name a token to revoke", "see the jti column of `caxton token list`")
        with self._locked():
            records = self._read()
            matches = [r for r in records if r.jti.startswith(wanted)]
            if not matches:
                raise NotFoundError(
                    f"no token with jti {wanted!r}", "see the jti column of `caxton token list`"
                )
            if len(matches) > 1:
                raise UsageError(
                    f"{wanted!r} matches {len(matches)} tokens: "
                    + ", ".join(r.jti for r in matches[:5]),
                    "give more characters of the jti",
                )
            found = matches[0]
            if found.revoked:
                return found, False
            done = replace(found, revoked=True)
            self._write([done if r.jti == found.jti else r for r in records])
        return done, True

    def _revoked(self) -> frozenset[str]:
        """Revoked jtis, re-read only when tokens.json changes (a stat per request)."""
        try:
            st = self.registry.stat()
        except FileNotFoundError:
            return frozenset()
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if self._revoked_cache is None or self._revoked_cache[0] != key:
            revoked = frozenset(r.jti for r in self._read() if r.revoked)
            self._revoked_cache = (key, revoked)
        return self._revoked_cache[1]

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise read-modify-write of the registry between `caxton token` and the server."""
        import fcntl

        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.dir / ".tokens.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _read(self) -> list[TokenRecord]:
        if not self.registry.exists():
            return []
        check_private(self.registry)
        try:
            data = json.loads(self.registry.read_text(encoding="utf-8"))
            return [
                TokenRecord(
                    jti=str(item["jti"]),
                    subject=str(item["subject"]),
                    workspaces=tuple(str(w) for w in item["workspaces"]),
                    role=parse_role(str(item["role"])),
                    issued_at=int(item["issued_at"]),
                    expires_at=int(item["expires_at"]),
                    revoked=bool(item["revoked"]),
                )
                for item in data["tokens"]
            ]
        except (OSError, ValueError, KeyError, TypeError, CaxtonError) as exc:
            raise FileAccessError(
                f"the token registry `{self.registry}` is unreadable or corrupt",
                "restore it from a backup; deleting it forgets revocations, so also delete "
                f"`{self.dir / SECRET_FILE}` to invalidate every token",
            ) from exc

    def _write(self, records: list[TokenRecord]) -> None:
        body = {
            "version": 1,
            "tokens": [{**asdict(r), "workspaces": list(r.workspaces)} for r in records],
        }
        data = (json.dumps(body, indent=2) + "\n").encode()
        write_private(self.registry, data, exclusive=False)


def ensure_admin_token(data_dir: Path | None = None) -> tuple[str | None, Path]:
    """On a server's first start, issue an admin token for every workspace and save it (0600).

    Returns the token and where it was saved; afterwards (None, that path). Deleting the file
    makes the next start issue a fresh one (revoke the old one with `caxton token revoke`).
    """
    path = server_dir(data_dir) / ADMIN_TOKEN_FILE
    if path.exists():
        check_private(path)
        return None, path
    authority = TokenAuthority(data_dir)
    token, record = authority.issue("admin", [ALL_WORKSPACES], "admin", ADMIN_TTL_SECONDS)
    if not write_private(path, token.encode() + b"\n", exclusive=True):
        authority.revoke(record.jti)  # another process won the race; keep only its token
        return None, path
    return token, path
