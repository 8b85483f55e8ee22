// Polish and English texts, the language choice and the switch.
//
// Polish is the default; English when the browser prefers it over Polish. A choice made
// with the switch is remembered (only the language code is stored, nothing else).

const STORE_KEY = "authsvc.lang";

const TEXTS = {
  pl: {
    "brand": "Panel Klienta",
    "support.brand": "Konsola wsparcia",
    "lang.switch": "English",
    "lang.switch_label": "Switch to English",
    "common.wait": "Możesz spróbować ponownie za {time}.",
    "common.retrying": "Ponawiamy automatycznie za {time}…",
    "err.network": "Nie udało się połączyć z usługą logowania. Sprawdź połączenie i spróbuj ponownie.",
    "err.generic": "Coś poszło nie tak ({status}). Spróbuj ponownie za chwilę.",
    "err.csrf_rejected": "Usługa odrzuciła żądanie z tej strony (niedozwolone pochodzenie). Otwórz panel pod jego właściwym adresem.",
    "err.overloaded": "Usługa jest teraz przeciążona. Ponowimy próbę automatycznie.",
    "err.database_unavailable": "Usługa jest chwilowo niedostępna. Ponowimy próbę automatycznie.",
    "err.session": "Sesja wygasła albo została zakończona. Zaloguj się ponownie.",

    "login.title": "Logowanie – Panel Klienta",
    "login.heading": "Logowanie",
    "login.login": "Login",
    "login.password": "Hasło",
    "login.submit": "ZALOGUJ SIĘ",
    "login.checking": "Sprawdzamy dane logowania…",
    "login.logged_out": "Wylogowano. Do zobaczenia!",
    "login.missing": "Wpisz login i hasło.",
    "err.invalid_credentials": "Nieprawidłowy login lub hasło.",
    "err.too_many_attempts": "Zbyt wiele nieudanych prób logowania. Ze względów bezpieczeństwa logowanie jest chwilowo wstrzymane.",

    "verify.heading": "Wpisz kod jednorazowy",
    "verify.sent.email": "Wysłaliśmy kod e-mailem na adres {destination}.",
    "verify.sent.sms": "Wysłaliśmy kod SMS-em na numer {destination}.",
    "verify.sms_unavailable.limited": "Tym razem kod nie przyszedł SMS-em: dla ochrony przed nadużyciami wysyłamy ograniczoną liczbę SMS-ów na godzinę, a ten limit został wyczerpany. Kod wysłaliśmy e-mailem. Od następnej pełnej godziny kody znów będą przychodzić SMS-em.",
    "verify.sms_unavailable.number_not_accepted": "Nie wysyłamy już SMS-ów na numer telefonu zapisany w Twoim koncie, dlatego kod wysłaliśmy e-mailem.",
    "verify.code": "Kod jednorazowy (6 cyfr)",
    "verify.submit": "Potwierdź",
    "verify.expires_in": "Kod wygaśnie za {time}.",
    "verify.attempts_left": "Pozostałe próby: {n}.",
    "verify.delivery.queued": "Wysyłamy kod…",
    "verify.delivery.sent": "Kod został wysłany.",
    "verify.delivery.failed.email": "Nie udało się wysłać kodu e-mailem.",
    "verify.delivery.failed.sms": "Nie udało się wysłać kodu SMS-em.",
    "verify.failed_offer.sms": "Nie udało się wysłać SMS-a z kodem. Wyślij kod e-mailem.",
    "verify.failed_offer.email": "Nie udało się wysłać e-maila z kodem. Wyślij kod SMS-em.",
    "verify.resend": "Wyślij kod ponownie",
    "verify.switch.sms": "Wyślij kod SMS-em",
    "verify.switch.email": "Wyślij kod e-mailem",
    "verify.resend_wait": "Nowy kod możesz zamówić za {time}.",
    "verify.resent": "Wysłaliśmy nowy kod. Poprzedni już nie działa.",
    "verify.back": "Wróć do logowania",
    "verify.checking": "Sprawdzamy kod…",
    "verify.need_six": "Kod ma 6 cyfr.",
    "err.invalid_code": "Nieprawidłowy kod. Pozostałe próby: {n}.",
    "err.challenge_exhausted": "Wpisano zbyt wiele błędnych kodów. Zaloguj się ponownie, aby otrzymać nowy kod.",
    "err.challenge_expired": "Kod wygasł. Zaloguj się ponownie, aby otrzymać nowy kod.",
    "err.resend_too_soon": "Poczekaj chwilę przed zamówieniem kolejnego kodu.",
    "err.resend_limit_reached": "Nie możemy wysłać więcej kodów dla tego logowania. Zaloguj się ponownie.",
    "err.channel_unavailable": "To konto nie ma numeru telefonu, więc kod może przyjść tylko e-mailem.",

    "app.use": "Użyj aplikacji uwierzytelniającej",
    "app.heading": "Wpisz kod z aplikacji",
    "app.intro": "Otwórz aplikację uwierzytelniającą na telefonie i wpisz kod, który teraz pokazuje.",
    "app.code": "Kod z aplikacji (6 cyfr)",
    "recovery.use": "Użyj kodu odzyskiwania",
    "recovery.heading": "Wpisz kod odzyskiwania",
    "recovery.intro": "Użyj jednego z kodów odzyskiwania zapisanych przy włączaniu logowania dwuetapowego. Każdy działa tylko raz.",
    "recovery.code": "Kod odzyskiwania",
    "recovery.hint": "Np. abcd-efgh-jkmn-pqrs. Wielkość liter, spacje i myślniki nie mają znaczenia.",
    "recovery.missing": "Wpisz kod odzyskiwania.",
    "verify.resent_instead": "Wysłaliśmy kod. Wpisz go poniżej.",
    "err.invalid_app_code": "Nieprawidłowy kod albo kod już użyty. Poczekaj na następny kod w aplikacji. Pozostałe próby: {n}.",
    "err.invalid_recovery_code": "Nieprawidłowy kod odzyskiwania albo kod już użyty. Pozostałe próby: {n}.",
    "err.factor_not_allowed": "To konto loguje się aplikacją uwierzytelniającą; kody e-mailem i SMS-em są dla niego wyłączone.",

    "reset.forgot": "Nie pamiętasz hasła?",
    "reset.heading": "Ustaw nowe hasło",
    "reset.intro": "Wpisz swój login. Wyślemy kod do ustawienia nowego hasła na adres e-mail lub numer telefonu podany w koncie.",
    "reset.login": "Twój login",
    "reset.submit": "Wyślij kod",
    "reset.missing_login": "Wpisz swój login.",
    "reset.sending": "Wysyłamy kod…",
    "reset.code_heading": "Wpisz kod i nowe hasło",
    "reset.sent": "Jeśli konto o loginie {login} istnieje, wysłaliśmy kod na adres e-mail lub numer telefonu podany w tym koncie. Wiadomość może dotrzeć po chwili.",
    "reset.code": "Kod z wiadomości (6 cyfr)",
    "reset.confirm": "Ustaw nowe hasło",
    "reset.resend": "Wyślij kod jeszcze raz",
    "reset.missing_password": "Wpisz nowe hasło.",
    "reset.saving": "Ustawiamy nowe hasło…",
    "reset.done": "Hasło zostało zmienione. Zaloguj się nowym hasłem.",
    "password.new": "Nowe hasło",
    "password.hint": "Im dłuższe, tym lepiej: zalecamy co najmniej 15 znaków, np. kilka przypadkowych słów. Nie może być takie jak login ani należeć do popularnych haseł.",
    "err.password_reset_required": "Ze względów bezpieczeństwa to konto zostało zabezpieczone i przed zalogowaniem trzeba ustawić nowe hasło. Wyślij sobie kod, aby to zrobić.",
    "err.reset_too_many": "Zbyt wiele próśb o zmianę hasła. Ze względów bezpieczeństwa kolejną możesz wysłać później.",
    "err.unavailable": "Usługa jest chwilowo niedostępna. Spróbuj ponownie za chwilę.",
    "err.reset_expired": "Kod do ustawienia hasła wygasł. Poproś o nowy kod.",
    "err.reset_exhausted": "Wpisano zbyt wiele błędnych kodów. Poproś o nowy kod.",
    "err.reset_used": "Ten kod został już użyty do ustawienia hasła. Zaloguj się nowym hasłem albo poproś o nowy kod.",
    "err.reset_not_found": "Nie znaleźliśmy tej prośby o zmianę hasła. Poproś o nowy kod.",
    "err.reset_resend_limit": "Nie możemy wysłać więcej kodów dla tej prośby. Użyj ostatniego kodu albo poproś o nowy później.",
    "weak.too_short": "Nowe hasło jest za krótkie: musi mieć co najmniej {n} znaków (zalecamy 15 lub więcej).",
    "weak.too_long": "Nowe hasło jest za długie: może mieć najwyżej {n} znaków.",
    "weak.common": "To hasło jest na liście często używanych haseł. Wybierz inne.",
    "weak.same_as_login": "Hasło nie może być takie samo jak login.",
    "weak.other": "To hasło nie spełnia zasad bezpieczeństwa. Wybierz inne.",

    "account.title": "Kod autoryzujący – Panel Klienta",
    "nav.details": "Twoje dane",
    "nav.authcode": "Kod autoryzujący",
    "nav.label": "Ścieżka",
    "session.signed_in_as": "Zalogowano jako {login}",
    "session.logout": "Wyloguj",
    "session.heading": "Sesja",
    "session.login": "Login",
    "session.email": "E-mail",
    "session.expires": "Sesja wygaśnie najpóźniej",
    "code.heading": "Kod autoryzujący",
    "code.intro": "Kod autoryzujący potwierdza Twoją tożsamość, gdy kontaktujesz się z naszym działem wsparcia przez telefon lub czat. Jest ważny przez godzinę i w tym czasie można go użyć wielokrotnie.",
    "code.warning": "Nie przekazuj kodu osobom, którym nie ufasz. Podaj go tylko konsultantowi naszego działu wsparcia, gdy sam się z nami kontaktujesz – kod daje dostęp do danych Twojego konta i usług.",
    "code.password": "Hasło do panelu",
    "code.generate": "Generuj kod",
    "code.generating": "Generujemy kod…",
    "code.your_code": "Twój kod autoryzujący",
    "code.copy": "Kopiuj kod",
    "code.copied": "Kod skopiowano do schowka.",
    "code.copy_failed": "Nie udało się skopiować – zaznacz kod i skopiuj go ręcznie.",
    "code.valid_for": "Ważny jeszcze {time} (do {until}).",
    "code.expired": "Kod wygasł. Wygeneruj nowy, jeśli go potrzebujesz.",
    "code.active_until": "Kod jest aktywny do {until}. Ze względów bezpieczeństwa nie pokazujemy go ponownie – jeśli go nie pamiętasz, wygeneruj nowy.",
    "code.verifications": "Wsparcie potwierdziło go {n} razy.",
    "code.none": "Nie masz aktywnego kodu.",
    "code.revoke": "Unieważnij kod",
    "code.revoked": "Kod unieważniono. Nie zadziała już w rozmowie ze wsparciem.",
    "code.replaces": "Nowy kod zastąpi obecny.",
    "err.wrong_password": "Nieprawidłowe hasło.",
    "err.code_limit": "Zbyt wiele prób. Spróbuj ponownie później.",
    "history.heading": "Historia sprawdzeń przez wsparcie",
    "history.empty": "Wsparcie jeszcze nie sprawdzało Twoich kodów.",
    "history.when": "Kiedy",
    "history.tool": "Narzędzie",
    "history.purpose": "Cel",
    "history.result": "Wynik",
    "history.no_purpose": "—",
    "result.valid": "Kod poprawny",
    "result.mismatch": "Błędny kod",
    "result.expired": "Kod wygasł",
    "result.no_active_code": "Brak aktywnego kodu",
    "result.locked": "Kod zablokowany po zbyt wielu błędnych próbach",
    "result.insufficient_scope": "Odmowa: narzędzie bez uprawnień",
    "result.rate_limited": "Odmowa: narzędzie przekroczyło limit",

    "sessions.heading": "Aktywne sesje",
    "sessions.intro": "Urządzenia i przeglądarki, na których jesteś teraz zalogowany(-a). Jeśli któregoś nie rozpoznajesz, wyloguj je i zmień hasło.",
    "sessions.this_device": "To urządzenie",
    "sessions.facts": "IP {ip} · ostatnio używana {last_used} · zalogowano {created}",
    "sessions.device": "{browser} w systemie {system}",
    "sessions.unknown_device": "Nieznane urządzenie",
    "sessions.unknown_browser": "Nieznana przeglądarka",
    "sessions.sign_out": "Wyloguj sesję",
    "sessions.sign_out_others": "Wyloguj wszędzie indziej",
    "sessions.signed_out": "Wylogowano sesję: {device}.",
    "sessions.others_signed_out": "Wylogowano wszystkie inne sesje.",
    "sessions.gone": "Ta sesja już się zakończyła.",
    "sessions.alone": "Nie jesteś zalogowany(-a) nigdzie indziej.",
    "password.heading": "Zmiana hasła",
    "password.intro": "Po zmianie hasła wylogujemy wszystkie inne sesje; ta zostaje. Wyślemy Ci też e-mail z potwierdzeniem.",
    "password.current": "Obecne hasło",
    "password.submit": "Zmień hasło",
    "password.missing": "Wpisz obecne hasło i nowe hasło.",
    "password.saving": "Zmieniamy hasło…",
    "password.changed": "Hasło zostało zmienione. Inne sesje zostały wylogowane.",
    "err.wrong_current_password": "Obecne hasło jest nieprawidłowe.",
    "err.password_limit": "Zbyt wiele błędnych prób podania hasła. Ze względów bezpieczeństwa zmiana hasła jest chwilowo wstrzymana.",

    "support.title": "Konsola wsparcia – weryfikacja kodu",
    "support.key_heading": "Dostęp do konsoli",
    "support.key": "Klucz API wsparcia",
    "support.key_hint": "Klucz zostaje tylko w tej karcie przeglądarki i znika po jej zamknięciu.",
    "support.key_use": "Użyj klucza",
    "support.key_missing": "Wpisz klucz API.",
    "support.key_set": "Używasz klucza {hint}.",
    "support.key_forget": "Zmień klucz",
    "support.verify_heading": "Weryfikacja kodu autoryzującego",
    "support.customer": "Klient (login lub ID konta)",
    "support.code": "Kod podany przez klienta",
    "support.purpose": "Cel sprawdzenia (np. numer zgłoszenia)",
    "support.check": "Sprawdź kod",
    "support.checking": "Sprawdzamy…",
    "support.missing": "Wpisz klienta i kod.",
    "support.valid": "KOD WAŻNY",
    "support.invalid": "KOD NIEWAŻNY",
    "support.valid_account": "Klient: {login}",
    "support.valid_until": "Kod ważny do {until}.",
    "support.reason.mismatch": "Kod się nie zgadza.",
    "support.reason.expired": "Kod wygasł (minęła godzina). Klient musi wygenerować nowy.",
    "support.reason.locked": "Kod zablokowano po zbyt wielu błędnych próbach. Klient musi wygenerować nowy.",
    "support.reason.no_active_code": "Klient nie ma aktywnego kodu (lub taki klient nie istnieje).",
    "err.invalid_api_key": "Klucz API jest nieprawidłowy lub unieważniony. Wpisz go ponownie.",
    "err.insufficient_scope": "Ten klucz nie ma uprawnienia do weryfikacji kodów (auth-codes:verify).",
    "err.support_rate": "Ten klucz przekroczył limit zapytań.",
    "err.invalid_request": "Sprawdź pola formularza (cel może mieć najwyżej 200 znaków).",
  },
  en: {
    "brand": "Client Panel",
    "support.brand": "Support console",
    "lang.switch": "Polski",
    "lang.switch_label": "Przełącz na polski",
    "common.wait": "You can try again in {time}.",
    "common.retrying": "Retrying automatically in {time}…",
    "err.network": "Could not reach the sign-in service. Check your connection and try again.",
    "err.generic": "Something went wrong ({status}). Please try again in a moment.",
    "err.csrf_rejected": "The service refused a request from this page (origin not allowed). Open the panel at its proper address.",
    "err.overloaded": "The service is overloaded right now. We will retry automatically.",
    "err.database_unavailable": "The service is briefly unavailable. We will retry automatically.",
    "err.session": "Your session has expired or was ended. Please sign in again.",

    "login.title": "Sign in – Client Panel",
    "login.heading": "Sign in",
    "login.login": "Login",
    "login.password": "Password",
    "login.submit": "Log in",
    "login.checking": "Checking your login and password…",
    "login.logged_out": "You have been logged out.",
    "login.missing": "Enter your login and password.",
    "err.invalid_credentials": "Wrong login or password.",
    "err.too_many_attempts": "Too many failed sign-in attempts. For your safety, signing in is paused for a while.",

    "verify.heading": "Enter the one-time code",
    "verify.sent.email": "We sent a code by e-mail to {destination}.",
    "verify.sent.sms": "We sent a code by SMS to {destination}.",
    "verify.sms_unavailable.limited": "This time your code did not come by SMS: to protect against abuse we send only a limited number of text messages each hour, and that limit has been reached. We sent the code by e-mail instead. From the next full hour, codes will come by SMS again.",
    "verify.sms_unavailable.number_not_accepted": "We no longer send text messages to the phone number on your account, so we sent the code by e-mail.",
    "verify.code": "One-time code (6 digits)",
    "verify.submit": "Confirm",
    "verify.expires_in": "The code expires in {time}.",
    "verify.attempts_left": "Attempts left: {n}.",
    "verify.delivery.queued": "Sending the code…",
    "verify.delivery.sent": "The code has been sent.",
    "verify.delivery.failed.email": "The e-mail with the code could not be sent.",
    "verify.delivery.failed.sms": "The SMS with the code could not be sent.",
    "verify.failed_offer.sms": "The SMS with your code could not be sent. Send the code by e-mail instead.",
    "verify.failed_offer.email": "The e-mail with your code could not be sent. Send the code by SMS instead.",
    "verify.resend": "Send a new code",
    "verify.switch.sms": "Send by SMS instead",
    "verify.switch.email": "Send by e-mail instead",
    "verify.resend_wait": "You can ask for a new code in {time}.",
    "verify.resent": "We sent a new code. The previous one no longer works.",
    "verify.back": "Back to sign in",
    "verify.checking": "Checking the code…",
    "verify.need_six": "The code has 6 digits.",
    "err.invalid_code": "Wrong code. Attempts left: {n}.",
    "err.challenge_exhausted": "Too many wrong codes. Sign in again to get a new code.",
    "err.challenge_expired": "The code has expired. Sign in again to get a new code.",
    "err.resend_too_soon": "Please wait a moment before asking for another code.",
    "err.resend_limit_reached": "No more codes can be sent for this sign-in. Please sign in again.",
    "err.channel_unavailable": "This account has no phone number, so the code can only come by e-mail.",

    "app.use": "Use the authenticator app",
    "app.heading": "Enter the code from your app",
    "app.intro": "Open the authenticator app on your phone and enter the code it shows now.",
    "app.code": "Code from the app (6 digits)",
    "recovery.use": "Use a recovery code",
    "recovery.heading": "Enter a recovery code",
    "recovery.intro": "Use one of the recovery codes you saved when you turned on two-step login. Each works only once.",
    "recovery.code": "Recovery code",
    "recovery.hint": "E.g. abcd-efgh-jkmn-pqrs. Upper or lower case, spaces and dashes do not matter.",
    "recovery.missing": "Enter a recovery code.",
    "verify.resent_instead": "We sent a code. Enter it below.",
    "err.invalid_app_code": "Wrong code, or one already used. Wait for the next code in the app. Attempts left: {n}.",
    "err.invalid_recovery_code": "Wrong recovery code, or one already used. Attempts left: {n}.",
    "err.factor_not_allowed": "This account signs in with the authenticator app; codes by e-mail or SMS are turned off for it.",

    "reset.forgot": "Forgot your password?",
    "reset.heading": "Set a new password",
    "reset.intro": "Enter your login. We will send a code for setting a new password to the e-mail address or phone number of the account.",
    "reset.login": "Your login",
    "reset.submit": "Send the code",
    "reset.missing_login": "Enter your login.",
    "reset.sending": "Sending the code…",
    "reset.code_heading": "Enter the code and a new password",
    "reset.sent": "If an account with the login {login} exists, we sent a code to its e-mail address or phone number. The message may take a moment to arrive.",
    "reset.code": "Code from the message (6 digits)",
    "reset.confirm": "Set the new password",
    "reset.resend": "Send the code again",
    "reset.missing_password": "Enter a new password.",
    "reset.saving": "Setting the new password…",
    "reset.done": "Your password has been changed. Sign in with your new password.",
    "password.new": "New password",
    "password.hint": "The longer, the better: we recommend 15 characters or more, e.g. a few random words. It may not be your login or a commonly used password.",
    "err.password_reset_required": "For your safety this account was secured, and a new password must be set before you can sign in. Send yourself a code to set it.",
    "err.reset_too_many": "Too many password reset requests. For your safety, you can ask again later.",
    "err.unavailable": "The service is briefly unavailable. Please try again in a moment.",
    "err.reset_expired": "The code for setting a new password has expired. Ask for a new code.",
    "err.reset_exhausted": "Too many wrong codes. Ask for a new code.",
    "err.reset_used": "This code was already used to set a password. Sign in with the new password, or ask for a new code.",
    "err.reset_not_found": "We could not find this password reset. Ask for a new code.",
    "err.reset_resend_limit": "No more codes can be sent for this request. Use the last code, or ask again later.",
    "weak.too_short": "The new password is too short: it must have at least {n} characters (15 or more recommended).",
    "weak.too_long": "The new password is too long: it may have at most {n} characters.",
    "weak.common": "This password is on the list of commonly used passwords. Choose another one.",
    "weak.same_as_login": "The password may not be the same as your login.",
    "weak.other": "This password does not meet the security rules. Choose another one.",

    "account.title": "Authorization code – Client Panel",
    "nav.details": "Your details",
    "nav.authcode": "Authorization code",
    "nav.label": "Breadcrumb",
    "session.signed_in_as": "Signed in as {login}",
    "session.logout": "Log out",
    "session.heading": "Session",
    "session.login": "Login",
    "session.email": "E-mail",
    "session.expires": "Session ends at the latest",
    "code.heading": "Authorization code",
    "code.intro": "An authorization code proves it is you when you contact our support team by phone or chat. It is valid for one hour and can be used several times within it.",
    "code.warning": "Do not give this code to anyone you do not trust. Only read it out to our support staff when you contacted us yourself – the code gives access to your account's data and services.",
    "code.password": "Panel password",
    "code.generate": "Generate code",
    "code.generating": "Generating the code…",
    "code.your_code": "Your authorization code",
    "code.copy": "Copy code",
    "code.copied": "The code was copied to the clipboard.",
    "code.copy_failed": "Could not copy – select the code and copy it by hand.",
    "code.valid_for": "Valid for {time} more (until {until}).",
    "code.expired": "The code has expired. Generate a new one if you need it.",
    "code.active_until": "A code is active until {until}. For your safety it is not shown again – if you do not have it, generate a new one.",
    "code.verifications": "Support has confirmed it {n} times.",
    "code.none": "You have no active code.",
    "code.revoke": "Revoke code",
    "code.revoked": "The code was revoked. It no longer works with support.",
    "code.replaces": "A new code replaces the current one.",
    "err.wrong_password": "Wrong password.",
    "err.code_limit": "Too many attempts. Please try again later.",
    "history.heading": "Support checks of your codes",
    "history.empty": "Support has not checked any of your codes yet.",
    "history.when": "When",
    "history.tool": "Tool",
    "history.purpose": "Purpose",
    "history.result": "Result",
    "history.no_purpose": "—",
    "result.valid": "Code valid",
    "result.mismatch": "Wrong code",
    "result.expired": "Code expired",
    "result.no_active_code": "No active code",
    "result.locked": "Code locked after too many wrong tries",
    "result.insufficient_scope": "Refused: the tool lacks permission",
    "result.rate_limited": "Refused: the tool was over its limit",

    "sessions.heading": "Sessions",
    "sessions.intro": "The devices and browsers where you are signed in now. If you do not recognise one, sign it out and change your password.",
    "sessions.this_device": "This device",
    "sessions.facts": "IP {ip} · last used {last_used} · signed in {created}",
    "sessions.device": "{browser} on {system}",
    "sessions.unknown_device": "Unknown device",
    "sessions.unknown_browser": "Unknown browser",
    "sessions.sign_out": "Sign out",
    "sessions.sign_out_others": "Sign out everywhere else",
    "sessions.signed_out": "Signed out: {device}.",
    "sessions.others_signed_out": "Every other session was signed out.",
    "sessions.gone": "That session had already ended.",
    "sessions.alone": "You are not signed in anywhere else.",
    "password.heading": "Change password",
    "password.intro": "Changing the password signs out every other session; this one stays. We will also e-mail you a confirmation.",
    "password.current": "Current password",
    "password.submit": "Change password",
    "password.missing": "Enter your current password and a new one.",
    "password.saving": "Changing the password…",
    "password.changed": "Your password has been changed. Your other sessions were signed out.",
    "err.wrong_current_password": "The current password is wrong.",
    "err.password_limit": "Too many wrong passwords. For your safety, changing the password is paused for a while.",

    "support.title": "Support console – code verification",
    "support.key_heading": "Console access",
    "support.key": "Support API key",
    "support.key_hint": "The key stays in this browser tab only and is gone when you close it.",
    "support.key_use": "Use key",
    "support.key_missing": "Enter the API key.",
    "support.key_set": "Using key {hint}.",
    "support.key_forget": "Change key",
    "support.verify_heading": "Verify an authorization code",
    "support.customer": "Customer (login or account ID)",
    "support.code": "Code read out by the customer",
    "support.purpose": "Purpose (e.g. ticket number)",
    "support.check": "Check code",
    "support.checking": "Checking…",
    "support.missing": "Enter the customer and the code.",
    "support.valid": "VALID",
    "support.invalid": "NOT VALID",
    "support.valid_account": "Customer: {login}",
    "support.valid_until": "The code is valid until {until}.",
    "support.reason.mismatch": "The code does not match.",
    "support.reason.expired": "The code has expired (the hour is over). The customer must generate a new one.",
    "support.reason.locked": "The code was locked after too many wrong tries. The customer must generate a new one.",
    "support.reason.no_active_code": "The customer has no active code (or there is no such customer).",
    "err.invalid_api_key": "The API key is wrong or revoked. Please enter it again.",
    "err.insufficient_scope": "This key may not verify codes (it lacks the auth-codes:verify scope).",
    "err.support_rate": "This key is over its request limit.",
    "err.invalid_request": "Check the form fields (the purpose may have at most 200 characters).",
  },
};

export const LANGS = Object.keys(TEXTS);
let current = pickLanguage();

function pickLanguage() {
  const stored = readStored();
  if (stored && TEXTS[stored]) return stored;
  for (const tag of navigator.languages || [navigator.language]) {
    const primary = String(tag || "").toLowerCase().split("-")[0];
    if (TEXTS[primary]) return primary;
  }
  return "pl";
}

function readStored() {
  try {
    return window.localStorage.getItem(STORE_KEY);
  } catch {
    return null; // storage disabled: fall back to the browser's language
  }
}

export function lang() {
  return current;
}

/** The locale for dates and times. */
export function locale() {
  return current === "pl" ? "pl-PL" : "en-GB";
}

/** The text for `key` with `{name}` placeholders filled in. */
export function t(key, params = {}) {
  const text = TEXTS[current][key] ?? TEXTS.pl[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** Put a translated text into an element; it is translated again when the language changes. */
export function setText(element, key, params = {}) {
  element.dataset.i18n = key;
  element.dataset.i18nParams = JSON.stringify(params);
  element.textContent = t(key, params);
}

/** Empty an element set with setText. */
export function clearText(element) {
  delete element.dataset.i18n;
  delete element.dataset.i18nParams;
  element.textContent = "";
}

const listeners = [];

/** Run `callback` after every language change (for texts built in code). */
export function onLanguageChange(callback) {
  listeners.push(callback);
}

function apply() {
  document.documentElement.lang = current;
  for (const element of document.querySelectorAll("[data-i18n]")) {
    const params = element.dataset.i18nParams ? JSON.parse(element.dataset.i18nParams) : {};
    element.textContent = t(element.dataset.i18n, params);
  }
  for (const element of document.querySelectorAll("[data-i18n-aria-label]")) {
    element.setAttribute("aria-label", t(element.dataset.i18nAriaLabel));
  }
  const title = document.querySelector("title[data-i18n]");
  if (title) document.title = title.textContent;
  for (const callback of listeners) callback(current);
}

export function setLanguage(next) {
  if (!TEXTS[next]) return;
  current = next;
  try {
    window.localStorage.setItem(STORE_KEY, next);
  } catch {
    // not remembered; the page still switches
  }
  apply();
}

/** Translate the page and wire the visible language switch (a button with id lang-switch). */
export function initI18n() {
  const toggle = document.getElementById("lang-switch");
  if (toggle) {
    toggle.addEventListener("click", () => setLanguage(current === "pl" ? "en" : "pl"));
  }
  apply();
}
