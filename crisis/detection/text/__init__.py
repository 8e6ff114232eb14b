"""Message text features: normalization and fingerprints, links, mentions, hostility,
near-duplicate clusters.

Only messages from new or suspicious accounts (or carrying links/mentions) are
normalized and clustered, which keeps the per-message cost of ordinary traffic
at a couple of dict lookups.
"""
from crisis.detection.text.clusters import DupClusters, jaccard
from crisis.detection.text.hostility import Hostility, hostility, scorer
from crisis.detection.text.normalize import fold, link_domains, mention_count, tokens

__all__ = ["DupClusters", "Hostility", "fold", "hostility", "jaccard", "link_domains",
           "mention_count", "scorer", "tokens"]
