"""The words messages use for factors and their changes, per locale (the templates get
them preformatted, as they get times)."""

from __future__ import annotations

FACTOR_NAMES = {
    "en": {
        "email": "a code by e-mail",
        "sms": "a code by SMS",
        "totp": "the authenticator app",
        "recovery_code": "a recovery code",
        "passkey": "a passkey",
    },
    "pl": {
        "email": "kod w e-mailu",
        "sms": "kod w SMS-ie",
        "totp": "aplikacja uwierzytelniająca",
        "recovery_code": "kod zapasowy",
        "passkey": "klucz dostępu",
    },
}

CHANGES = {
    "en": {
        "totp_added": "An authenticator app was set up for two-step login.",
        "totp_removed": "The authenticator app was removed from two-step login.",
        "recovery_codes_new": "A new set of recovery codes was created; the old codes no "
        "longer work.",
        "preferred_changed": "The preferred second step of two-step login was changed.",
        "passkey_added": 'A passkey named "{name}" was added; it signs in to the account.',
        "passkey_removed": 'The passkey named "{name}" was removed; it no longer signs in.',
        "factors_reset": "Our support team removed the authenticator app, the passkeys and "
        "the recovery codes of the account, at your request; sign-ins use codes by e-mail or "
        "SMS again.",
    },
    "pl": {
        "totp_added": "Dodano aplikację uwierzytelniającą do logowania dwuetapowego.",
        "totp_removed": "Usunięto aplikację uwierzytelniającą z logowania dwuetapowego.",
        "recovery_codes_new": "Utworzono nowy zestaw kodów zapasowych; dotychczasowe kody "
        "przestały działać.",
        "preferred_changed": "Zmieniono preferowany drugi krok logowania dwuetapowego.",
        "passkey_added": "Dodano klucz dostępu o nazwie „{name}”; można nim logować się do konta.",
        "passkey_removed": "Usunięto klucz dostępu o nazwie „{name}”; nie można już nim "
        "się logować.",
        "factors_reset": "Na Twoją prośbę nasz zespół wsparcia usunął aplikację "
        "uwierzytelniającą, klucze dostępu i kody zapasowe konta; logowanie znów używa "
        "kodów w e-mailu lub SMS-ie.",
    },
}


def factor_name(locale: str, factor: str) -> str:
    return FACTOR_NAMES.get(locale, FACTOR_NAMES["en"]).get(factor, factor)


def change_text(locale: str, change: str) -> str:
    return CHANGES.get(locale, CHANGES["en"])[change]


def passkey_name(locale: str, name: str) -> str:
    """How a login confirmation names the passkey that signed in."""
    if locale == "pl":
        return f"klucz dostępu „{name}”"
    return f'the passkey "{name}"'
