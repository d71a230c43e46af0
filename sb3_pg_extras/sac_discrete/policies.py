"""DiscreteSAC's policies: the shared categorical actor / Q(s, .) critics policy of ``common/policies.py``."""

from sb3_pg_extras.common.policies import CategoricalQCnnPolicy, CategoricalQMultiInputPolicy, CategoricalQPolicy

DiscreteSACPolicy = CategoricalQPolicy
MlpPolicy = CategoricalQPolicy
CnnPolicy = CategoricalQCnnPolicy
MultiInputPolicy = CategoricalQMultiInputPolicy

__all__ = ["CnnPolicy", "DiscreteSACPolicy", "MlpPolicy", "MultiInputPolicy"]
