"""HTTP plumbing shared by every router: problem+json, headers, client IP, cookies, dependencies."""
