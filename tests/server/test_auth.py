"""Server tokens: signing, verifying, isolation between workspaces, roles, revocation, files."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import stat
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caxton.errors import CaxtonError, ExitCode, FileAccessError, UsageError
from caxton.server import auth
from caxton.server.auth import AuthError, Forbidden, TokenAuthority
from tests.conftest import Cli

SECRET = bytes(range(32))
OTHER_SECRET = bytes(range(32, 64))
NOW = 1_700_000_000.0


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_json(**extra: object) -> str:
    body = {
        "sub": "ann",
        "ws": ["*"],
        "role": "admin",
        "iat": int(time.time()),
        "exp": int(time.time()) + 3600,
        "jti": "x" * 24,
        **extra,
    }
    return b64(json.dumps(body).encode())


def token(ws: list[str] | None = None, role: auth.Role = "viewer", ttl: int = 3600) -> str:
    return auth.issue(SECRET, "ann", ws or ["alpha"], role, ttl)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- issue / verify ------------------------------------------------------------------------


def test_round_trip() -> None:
    claims = auth.verify(SECRET, token(["alpha", "beta"], "deployer"))
    assert claims.subject == "ann"
    assert claims.workspaces == ("alpha", "beta")
    assert claims.role == "deployer"
    assert claims.expires_at - claims.issued_at == 3600
    assert len(claims.jti) == 24


def test_expired_with_a_controlled_clock() -> None:
    t = auth.issue(SECRET, "ann", ["alpha"], "viewer", 1, now=NOW)
    assert auth.verify(SECRET, t, now=NOW + 1 + auth.LEEWAY_SECONDS).jti  # inside the leeway
    with pytest.raises(AuthError, match="expired") as info:
        auth.verify(SECRET, t, now=NOW + 2 + auth.LEEWAY_SECONDS)
    assert info.value.http_status == 401


def test_expired_against_the_real_clock() -> None:
    t = auth.issue(SECRET, "ann", ["alpha"], "viewer", 1, now=time.time() - 120)
    with pytest.raises(AuthError, match="expired"):
        auth.verify(SECRET, t)


def test_issued_in_the_future_is_refused() -> None:
    t = auth.issue(SECRET, "ann", ["alpha"], "viewer", 3600, now=NOW + 120)
    with pytest.raises(AuthError, match="future"):
        auth.verify(SECRET, t, now=NOW)


@pytest.mark.parametrize(
    "bad",
    ["", "abc", "a.b", "a.b.c.d", "....", "Bearer x.y.z", "é.é.é", "a b.c.d", "x" * 9000],
)
def test_malformed_strings(bad: str) -> None:
    with pytest.raises(AuthError, match="malformed") as info:
        auth.verify(SECRET, bad)
    assert info.value.http_status == 401


def test_valid_base64_but_not_json_is_malformed() -> None:
    with pytest.raises(AuthError, match="malformed"):
        auth.verify(SECRET, f"{b64(b'nope')}.{b64(b'nope')}.{b64(b'nope')}")


def test_wrong_signature() -> None:
    forged = auth.issue(OTHER_SECRET, "ann", ["alpha"], "admin", 3600)
    with pytest.raises(AuthError, match="signature"):
        auth.verify(SECRET, forged)


def test_alg_none_is_refused() -> None:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    for crafted in (f"{header}.{claims_json()}.", f"{header}.{claims_json()}.{b64(b'x')}"):
        with pytest.raises(AuthError) as info:
            auth.verify(SECRET, crafted)
        assert info.value.http_status == 401


@pytest.mark.parametrize("alg", ["HS512", "HS384", "RS256", "ES256", "None", "hs256"])
def test_other_algorithms_are_refused(alg: str) -> None:
    header = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = claims_json()
    if alg.startswith("HS"):
        digest = {"HS512": "sha512", "HS384": "sha384"}[alg]
        import hashlib
        import hmac

        sig = hmac.new(SECRET, f"{header}.{body}".encode(), getattr(hashlib, digest)).digest()
    else:
        sig = b"\x01" * 64
    with pytest.raises(AuthError, match="algorithm"):
        auth.verify(SECRET, f"{header}.{body}.{b64(sig)}")


def test_a_pyjwt_hs512_token_is_refused() -> None:
    import jwt

    hs512 = jwt.encode({"sub": "ann"}, SECRET * 2, algorithm="HS512")
    with pytest.raises(AuthError, match="algorithm"):
        auth.verify(SECRET, hs512)


@pytest.mark.parametrize(
    "claims",
    [
        {"role": "root"},
        {"ws": []},
        {"ws": "alpha"},
        {"ws": [1]},
        {"sub": 5},
        {"exp": "soon"},
    ],
)
def test_signed_but_wrong_claims_are_malformed(claims: dict[str, object]) -> None:
    import jwt

    body: dict[str, object] = {"sub": "ann", "ws": ["alpha"], "role": "viewer", "jti": "j" * 24}
    body |= {"iat": int(time.time()), "exp": int(time.time()) + 60} | claims
    with pytest.raises(AuthError, match="malformed"):
        auth.verify(SECRET, jwt.encode(body, SECRET, algorithm="HS256"))


def test_missing_claim_is_refused() -> None:
    import jwt

    body = {"sub": "ann", "ws": ["alpha"], "role": "viewer", "exp": int(time.time()) + 60}
    with pytest.raises(AuthError):
        auth.verify(SECRET, jwt.encode(body, SECRET, algorithm="HS256"))


def test_errors_never_show_the_token() -> None:
    t = auth.issue(OTHER_SECRET, "ann", ["alpha"], "admin", 3600)
    with pytest.raises(AuthError) as info:
        auth.verify(SECRET, t)
    shown = f"{info.value} {info.value!r} {info.value.hint}"
    for part in t.split("."):
        assert part not in shown
    assert t not in repr(auth.verify(OTHER_SECRET, t))


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_one_character_change_is_refused(data: st.DataObject) -> None:
    t = auth.issue(SECRET, "ann", ["alpha"], "deployer", 3600)
    header_len = t.index(".") + 1
    index = data.draw(st.integers(min_value=header_len, max_value=len(t) - 1), label="index")
    replacement = data.draw(
        st.one_of(
            st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            st.characters(),
        ).filter(lambda c: c != t[index]),
        label="replacement",
    )
    mutated = t[:index] + replacement + t[index + 1 :]
    with pytest.raises(AuthError):
        auth.verify(SECRET, mutated)


def test_padding_bits_of_the_signature_do_not_make_a_second_valid_token() -> None:
    # base64's last character carries unused bits: flipping them leaves the decoded signature
    # unchanged, so without a canonical check two different strings would both verify.
    t = auth.issue(SECRET, "ann", ["alpha"], "admin", 3600)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(t[-1])
    twin = t[:-1] + alphabet[last ^ 1]
    assert base64.urlsafe_b64decode(twin.split(".")[2] + "=") == base64.urlsafe_b64decode(
        t.split(".")[2] + "="
    )
    with pytest.raises(AuthError, match="malformed"):
        auth.verify(SECRET, twin)


# --- authorize -----------------------------------------------------------------------------


def test_a_token_for_one_workspace_touches_no_other() -> None:
    claims = auth.verify(SECRET, token(["alpha"], "admin"))
    auth.authorize(claims, "alpha", "admin")
    with pytest.raises(Forbidden, match="'beta'") as info:
        auth.authorize(claims, "beta", "viewer")
    assert info.value.http_status == 403
    assert "caxton token create --workspace beta" in (info.value.hint or "")


def test_star_reaches_every_workspace() -> None:
    claims = auth.verify(SECRET, token(["*"], "viewer"))
    for ws in ("alpha", "beta", "zeta-9"):
        auth.authorize(claims, ws, "viewer")


def test_a_workspace_named_like_a_prefix_is_not_reached() -> None:
    claims = auth.verify(SECRET, token(["alpha"], "admin"))
    with pytest.raises(Forbidden):
        auth.authorize(claims, "alpha-2", "viewer")


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("viewer", {"viewer"}),
        ("deployer", {"viewer", "deployer"}),
        ("admin", {"viewer", "deployer", "admin"}),
    ],
)
def test_role_order(role: auth.Role, allowed: set[str]) -> None:
    claims = auth.verify(SECRET, token(["alpha"], role))
    for needed in auth.ROLES:
        if needed in allowed:
            auth.authorize(claims, "alpha", needed)
        else:
            with pytest.raises(Forbidden, match="needs") as info:
                auth.authorize(claims, "alpha", needed)
            assert info.value.http_status == 403


@pytest.mark.parametrize(
    "workspaces", [[], ["*", "alpha"], ["Alpha"], ["a"], ["../etc"], ["alpha beta"]]
)
def test_bad_workspace_lists_are_refused_at_issue(workspaces: list[str]) -> None:
    with pytest.raises(UsageError):
        auth.issue(SECRET, "ann", workspaces, "viewer", 60)


# --- ttl -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("3600s", 3600), (" 1D ", 86400)],
)
def test_parse_ttl(raw: str, seconds: int) -> None:
    assert auth.parse_ttl(raw) == seconds


@pytest.mark.parametrize("raw", ["", "30", "d", "1.5h", "-1d", "0s", "1w", "5000d", "1h30m"])
def test_parse_ttl_refuses(raw: str) -> None:
    with pytest.raises(UsageError) as info:
        auth.parse_ttl(raw)
    assert info.value.hint


@settings(max_examples=200)
@given(st.text(max_size=12))
def test_parse_ttl_never_crashes(raw: str) -> None:
    with contextlib.suppress(UsageError):
        assert auth.parse_ttl(raw) > 0


# --- files ---------------------------------------------------------------------------------


def test_secret_is_created_0600_and_reused(tmp_path: Path) -> None:
    first = auth.load_secret(tmp_path)
    path = tmp_path / "server" / "secret"
    assert mode(path) == 0o600
    assert len(first) == 32
    assert len(path.read_text().strip()) == 64
    assert auth.load_secret(tmp_path) == first
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_secret_defaults_to_the_data_dir(isolated_home: Path) -> None:
    auth.load_secret()
    assert (isolated_home / "data" / "server" / "secret").exists()


def test_secret_readable_by_others_is_refused(tmp_path: Path) -> None:
    auth.load_secret(tmp_path)
    path = tmp_path / "server" / "secret"
    path.chmod(0o644)
    with pytest.raises(FileAccessError, match="readable by other users") as info:
        auth.load_secret(tmp_path)
    assert f"chmod 600 {path}" in (info.value.hint or "")
    assert info.value.exit_code == ExitCode.IO


def test_corrupt_secret_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "server" / "secret"
    path.parent.mkdir()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"not hex\n")
    os.close(fd)
    with pytest.raises(FileAccessError, match="corrupt"):
        auth.load_secret(tmp_path)


def test_registry_records_but_never_stores_tokens(tmp_path: Path) -> None:
    authority = TokenAuthority(tmp_path)
    t, record = authority.issue("ann", ["alpha"], "deployer", 3600)
    registry = tmp_path / "server" / "tokens.json"
    assert mode(registry) == 0o600
    text = registry.read_text()
    for part in t.split("."):
        assert part not in text
    assert record.jti in text
    assert [r.jti for r in authority.list_tokens()] == [record.jti]
    assert authority.verify(t).jti == record.jti


def test_revocation(tmp_path: Path) -> None:
    authority = TokenAuthority(tmp_path)
    t, record = authority.issue("ann", ["alpha"], "admin", 3600)
    other, _ = authority.issue("bob", ["alpha"], "admin", 3600)
    assert authority.verify(t).jti == record.jti  # fills the revocation cache
    done, changed = authority.revoke(record.jti[:10])
    assert changed and done.revoked and done.status() == "revoked"
    with pytest.raises(AuthError, match="revoked"):
        authority.verify(t)
    with pytest.raises(AuthError, match="revoked"):  # a fresh process sees it too
        TokenAuthority(tmp_path).verify(t)
    assert authority.verify(other).subject == "bob"
    assert authority.revoke(record.jti) == (done, False)


def test_revoke_unknown_or_ambiguous(tmp_path: Path) -> None:
    authority = TokenAuthority(tmp_path)
    with pytest.raises(CaxtonError, match="no token") as info:
        authority.revoke("abc")
    assert info.value.exit_code == ExitCode.NOT_FOUND
    for _ in range(40):  # 40 random hex jtis: two share a first character
        authority.issue("ann", ["alpha"], "viewer", 60)
    firsts = [r.jti[0] for r in authority.list_tokens()]
    shared = next(c for c in firsts if firsts.count(c) > 1)
    with pytest.raises(UsageError, match="matches"):
        authority.revoke(shared)


def test_registry_readable_by_others_is_refused(tmp_path: Path) -> None:
    authority = TokenAuthority(tmp_path)
    authority.issue("ann", ["alpha"], "viewer", 60)
    (tmp_path / "server" / "tokens.json").chmod(0o644)
    with pytest.raises(FileAccessError, match="readable by other users"):
        authority.list_tokens()


def test_corrupt_registry_is_a_clear_error(tmp_path: Path) -> None:
    authority = TokenAuthority(tmp_path)
    authority.issue("ann", ["alpha"], "viewer", 60)
    (tmp_path / "server" / "tokens.json").write_text("{not json")
    with pytest.raises(FileAccessError, match="corrupt"):
        authority.list_tokens()


def test_authority_repr_hides_the_secret(tmp_path: Path) -> None:
    authority = TokenAuthority(tmp_path)
    assert authority.secret.hex() not in repr(authority)


def test_admin_token_on_first_start_only(tmp_path: Path) -> None:
    t, path = auth.ensure_admin_token(tmp_path)
    assert t is not None and path == tmp_path / "server" / "admin-token"
    assert mode(path) == 0o600 and path.read_text().strip() == t
    claims = TokenAuthority(tmp_path).verify(t)
    assert claims.role == "admin" and claims.workspaces == ("*",)
    assert claims.expires_at - claims.issued_at == 365 * 86400
    assert auth.ensure_admin_token(tmp_path) == (None, path)
    assert len(TokenAuthority(tmp_path).list_tokens()) == 1


# --- the CLI -------------------------------------------------------------------------------


def test_cli_create_list_revoke(cli: Cli, tmp_path: Path) -> None:
    made = cli(
        "token", "create", "-w", "alpha", "-w", "beta", "--role", "deployer", "--ttl", "12h",
        "--subject", "ci", "--data-dir", str(tmp_path),
    )  # fmt: skip
    assert made.code == 0, made.err
    t = made.out.strip()
    assert t.count(".") == 2 and t not in made.err
    claims = TokenAuthority(tmp_path).verify(t)
    assert (claims.subject, claims.workspaces, claims.role) == ("ci", ("alpha", "beta"), "deployer")
    assert claims.jti in made.err and "expires" in made.err

    listed = cli("token", "list", "--data-dir", str(tmp_path), "--json")
    assert listed.code == 0
    rows = json.loads(listed.out)
    assert [(r["jti"], r["status"]) for r in rows] == [(claims.jti, "active")]
    assert t.split(".")[2] not in listed.out

    table = cli("token", "list", "--data-dir", str(tmp_path))
    assert claims.jti in table.out and "active" in table.out

    gone = cli("token", "revoke", claims.jti[:8], "--data-dir", str(tmp_path))
    assert gone.code == 0 and "revoked" in gone.err
    rows = json.loads(cli("token", "list", "--data-dir", str(tmp_path), "--json").out)
    assert rows[0]["status"] == "revoked" and rows[0]["revoked"] is True
    again = cli("token", "revoke", claims.jti, "--data-dir", str(tmp_path))
    assert again.code == 0 and "already" in again.err


def test_cli_create_json_and_all_workspaces(cli: Cli, tmp_path: Path) -> None:
    made = cli(
        "token", "create", "--all-workspaces", "--role", "admin", "--json",
        "--data-dir", str(tmp_path),
    )  # fmt: skip
    assert made.code == 0, made.err
    body = json.loads(made.out)
    assert body["workspaces"] == ["*"] and body["status"] == "active"
    assert TokenAuthority(tmp_path).verify(body["token"]).jti == body["jti"]


def test_cli_lists_expired(cli: Cli, tmp_path: Path) -> None:
    TokenAuthority(tmp_path).issue("old", ["alpha"], "viewer", 1, now=time.time() - 100)
    rows = json.loads(cli("token", "list", "--data-dir", str(tmp_path), "--json").out)
    assert rows[0]["status"] == "expired"


def test_cli_default_data_dir(cli: Cli, isolated_home: Path) -> None:
    made = cli("token", "create", "-w", "alpha", "--role", "viewer")
    assert made.code == 0, made.err
    assert (isolated_home / "data" / "server" / "tokens.json").exists()
    assert cli("token", "list").code == 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["-w", "alpha", "--role", "root"], "unknown role"),
        (["-w", "alpha", "--role", "viewer", "--ttl", "soon"], "not a token lifetime"),
        (["--role", "viewer"], "at least one workspace"),
        (["-w", "alpha", "--all-workspaces", "--role", "viewer"], "exclude each other"),
        (["-w", "Bad Name", "--role", "viewer"], "not a workspace name"),
    ],
)
def test_cli_create_refuses(cli: Cli, tmp_path: Path, args: list[str], needle: str) -> None:
    made = cli("token", "create", *args, "--data-dir", str(tmp_path))
    assert made.code == ExitCode.USAGE
    assert needle in made.err and "hint:" in made.err
    assert made.out == ""


def test_cli_revoke_unknown(cli: Cli, tmp_path: Path) -> None:
    gone = cli("token", "revoke", "nope", "--data-dir", str(tmp_path))
    assert gone.code == ExitCode.NOT_FOUND
    assert "caxton token list" in gone.err


def test_cli_refuses_an_exposed_secret(cli: Cli, tmp_path: Path) -> None:
    auth.load_secret(tmp_path)
    (tmp_path / "server" / "secret").chmod(0o640)
    made = cli("token", "list", "--data-dir", str(tmp_path))
    assert made.code == ExitCode.IO and "chmod 600" in made.err
