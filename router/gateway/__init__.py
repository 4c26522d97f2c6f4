"""The request path, one small room per step.

`plan` (parse -> classify -> decide; shared by serving, explain and the offline CLI), `admit`
(keys, rate limits, budget reservations), `execute` (attempts, fallbacks, egress guard,
deadlines), `finish` (headers, metrics, records) and `service` (`ChatService`, which runs them
in order). Live routing inputs sit beside them: `capacity`, `live_signals`, `availability`.
"""
