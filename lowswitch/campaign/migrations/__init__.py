"""Alembic environment and revision scripts of the campaign database (see
[`lowswitch.campaign.migrate`][lowswitch.campaign.migrate]); a package so that they ship with
lowswitch."""
