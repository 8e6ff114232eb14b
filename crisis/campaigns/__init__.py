"""Raids across communities: incidents of several communities linked into one campaign
when the same accounts, content or link domains appear within an hour (match), the
service that links them (service), the raised raid sensitivity it gives opted-in sibling
communities (boosts), and what each viewer may see of it (visibility)."""
