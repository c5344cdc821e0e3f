"""The in-app inbox, with email through SMTP when MAIL_SERVER is configured."""
