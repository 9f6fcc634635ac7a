"""Where a webhook may go: safe by default (no request forgery into the service's own network).

Two checks, at two times:

- `check_url` at enqueue time: the scheme (`https`, and `http` only with `WEBHOOK_ALLOW_HTTP`),
  no credentials (`user:pw@`: refused, never stored nor sent as Basic auth), a host, a port
  in `WEBHOOK_ALLOWED_PORTS` (443 and 80 by default), and,
  when the host is a literal address (`10.0.0.1`, `[::1]`, also the legacy IPv4 spellings
  `127.1` or `2130706433` that resolvers accept), that address. The caller turns
  `WebhookRefused` into a 422.
- `resolve` at delivery: a host name is resolved, *every* address it resolves to is checked
  (one bad address refuses the whole name: a mixed answer is how DNS rebinding looks), and the
  caller connects to one of exactly these addresses, never resolving the name again (no window
  between check and use).

Refused unless `WEBHOOK_ALLOW_PRIVATE`: every address that is not globally routable: private,
loopback, link-local (169.254.169.254, the cloud metadata service), unspecified, multicast,
reserved, shared (100.64/10), every block of IANA's special-purpose registries (an explicit
list, `SPECIAL_PURPOSE`: `ipaddress`'s own answer differs between Python versions), and IPv6
forms that embed one (`::ffff:127.0.0.1`).
"""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from jobs.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048


class WebhookRefused(ValueError):
    """The callback URL (or what its host resolves to) is not allowed: a permanent refusal,
    never retried. At enqueue time: a 422."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked callback URL, split the way a delivery needs it."""

    url: str
    scheme: str
    host: str
    """The name (or literal address) as written, without brackets."""
    port: int
    address: IPAddress | None
    """The host as a literal address, if it is one (then no resolution happens)."""

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def check_url(url: str, settings: Settings) -> Target:
    """The enqueue-time check: scheme, host, and a literal address's range.

    Raises `WebhookRefused` with a message fit for the client."""
    if len(url) > MAX_URL_LENGTH:
        raise WebhookRefused(f"callback URL longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookRefused(f"callback URL is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if settings.webhook_allow_http else ("https",)
    if scheme not in allowed:
        hint = "" if settings.webhook_allow_http else " (http:// needs WEBHOOK_ALLOW_HTTP=true)"
        raise WebhookRefused(f"callback URL must be {' or '.join(allowed)}://{hint}")
    if "@" in parts.netloc:
        # Never stored, never sent as Basic auth; the message does not repeat them.
        raise WebhookRefused("callback URL must not contain credentials (user:password@)")
    host = parts.hostname
    if not host:
        raise WebhookRefused("callback URL has no host")
    port = port or _default_port(scheme)
    if port not in settings.webhook_allowed_ports:
        allowed_ports = ",".join(map(str, settings.webhook_allowed_ports))
        raise WebhookRefused(
            f"callback URL port {port} is not allowed (WEBHOOK_ALLOWED_PORTS={allowed_ports})"
        )
    address = literal_address(host)
    if address is not None:
        check_address(address, settings)
    return Target(_without_fragment(parts), scheme, host, port, address)


def literal_address(host: str) -> IPAddress | None:
    """`host` as an address if it is one, including the legacy IPv4 spellings (`127.1`,
    `0x7f.0.0.1`, `2130706433`) that `getaddrinfo` would accept as addresses."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host.replace(".", "").isalnum() and not host.rstrip(".").rpartition(".")[2].isalpha():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def check_address(address: IPAddress, settings: Settings) -> None:
    """Refuse an address outside the public internet unless `WEBHOOK_ALLOW_PRIVATE`."""
    if settings.webhook_allow_private:
        return
    reason = non_global_reason(address)
    if reason:
        raise WebhookRefused(
            f"callback address {address} is {reason}; set WEBHOOK_ALLOW_PRIVATE=true to allow it"
        )


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _blocks(*entries: tuple[str, str]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(block), name) for block, name in entries)


SPECIAL_PURPOSE = _blocks(
    # IANA IPv4 Special-Purpose Address Registry (RFC 6890 and later), all of it, plus
    # multicast and broadcast: explicit, because `ipaddress` differs between Python versions
    # (3.11.7 takes 192.0.0.8 for a global address).
    ("0.0.0.0/8", "'this network'"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared (carrier-grade NAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.31.196.0/24", "AS112"),
    ("192.52.193.0/24", "AMT"),
    ("192.88.99.0/24", "6to4 relay anycast"),
    ("192.168.0.0/16", "private"),
    ("192.175.48.0/24", "AS112 direct delegation"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("255.255.255.255/32", "broadcast"),
    # IANA IPv6 Special-Purpose Address Registry, plus multicast and the deprecated site-local.
    # (`::ffff:0:0/96` and `2002::/16` are first judged by the IPv4 address they embed.)
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::ffff:0:0/96", "IPv4-mapped"),
    ("64:ff9b::/96", "NAT64"),
    ("64:ff9b:1::/48", "local-use NAT64"),
    ("100::/64", "discard-only"),
    ("100:0:0:1::/64", "dummy prefix"),
    ("2001::/23", "IETF protocol assignments"),
    ("2001:db8::/32", "documentation"),
    ("2002::/16", "6to4"),
    ("2620:4f:8000::/48", "AS112"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "segment routing SIDs"),
    ("fc00::/7", "unique local (private)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),
    ("ff00::/8", "multicast"),
)


def non_global_reason(address: IPAddress) -> str | None:
    """Why `address` is not a public internet address, or None if it is one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            reason = non_global_reason(embedded)
            return f"{reason} (it embeds {embedded})" if reason else None
    for block, name in SPECIAL_PURPOSE:
        if address in block:
            return f"special-purpose ({name}, {block})"
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("not globally routable", not address.is_global),
    )
    return next((name for name, hit in checks if hit), None)


async def resolve(target: Target, settings: Settings) -> list[IPAddress]:
    """The addresses to connect to, every one checked; raises `WebhookRefused` if any is not
    allowed, `OSError` (`socket.gaierror`) if the name does not resolve (worth a retry)."""
    if target.address is not None:
        check_address(target.address, settings)
        return [target.address]
    infos = await asyncio.get_running_loop().getaddrinfo(
        target.host, target.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])
        if address not in addresses:
            addresses.append(address)
    for address in addresses:
        try:
            check_address(address, settings)
        except WebhookRefused:
            # Which address, or what kind, is not said: the message is readable by any client
            # (`/deliveries`, the job's error), and would map the service's own network.
            raise WebhookRefused(
                f"{target.host} resolves to a non-public address; "
                "set WEBHOOK_ALLOW_PRIVATE=true to allow it"
            ) from None
    if not addresses:
        raise socket.gaierror(f"{target.host} resolves to no address")
    return addresses


def redact_url(url: str) -> str:
    """`url` fit to show: its query (often a token, `?token=...`) replaced by `<redacted>` and
    its fragment dropped. For views, `/deliveries` and logs; the delivery uses the full URL."""
    base, query_mark, _ = url.partition("#")[0].partition("?")
    return f"{base}?<redacted>" if query_mark else base


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _without_fragment(parts: SplitResult) -> str:
    return parts._replace(fragment="").geturl()
