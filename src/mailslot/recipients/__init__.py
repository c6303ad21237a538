"""Staff accounts (admins and recipients), their key pairs, and enrolment links."""
