"""Per-asset checks with thresholds for Nagios, CI and Prometheus (natscli ``server check``).

``model`` (result, thresholds), ``evaluate`` (pure functions over API replies), ``gather``
(one async gatherer per asset), ``render`` (Nagios line, JSON document, Prometheus text).
"""
