"""crisis: incident and crisis response for online communities.

Importing the package does nothing; `crisis.app.create_app(config)` builds the web app.
The README's layout table says which package holds what."""
