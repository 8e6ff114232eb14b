"""Telling members what is happening: updates marked public reach the community itself
(member channels: apprise URLs or a linked bridge room, through the notification outbox)
and its public status page; a playbook's cadence reminds the liaison when members have
waited too long.

Members see only what was written for them (a public title, the public updates) and the
incident's status and times; nothing here reads an incident's internal title, notes or
evidence. Below crisis.response: the lifecycle calls in (post_update, cadence.sync)."""
