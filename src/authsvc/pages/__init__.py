"""The Client Panel pages (/panel/) and the support console (/support/), served as static files."""

from authsvc.pages.routes import STATIC_DIR, content_security_policy, install_pages

__all__ = ["STATIC_DIR", "content_security_policy", "install_pages"]
