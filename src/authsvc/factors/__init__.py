"""Second steps of a login, one strategy each (e-mail and SMS codes, the authenticator
app, recovery codes), and their enrolment: see strategy.py."""
