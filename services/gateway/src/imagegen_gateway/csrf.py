"""Cross-site request forgery defence: where the page that sent a request came from.

A browser attaches the session cookie to requests that any site makes, but names that site in the
`Origin` header (older ones only in `Referer`), which a page cannot forge. So a cookie-authenticated
write is honoured only when it names one of our web origins; `SameSite=Lax` alone would still let
sibling subdomains and top-level form posts through.
"""

from urllib.parse import urlsplit

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL, lower-case and without a default port, as browsers
    send it; None for anything else."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{scheme}://{host}" if port in (None, _DEFAULT_PORTS[scheme]) else f"{scheme}://{host}:{port}"


def sending_origin(origin: str | None, referer: str | None) -> str | None:
    """The origin of the page that sent a request, from its Origin header, else its Referer; None
    when it sends neither. An opaque (`null`) or malformed origin comes back as sent, matching none."""
    header = origin or referer
    if not header:
        return None
    return origin_of(header) or header
