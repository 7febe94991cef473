"""One call from a volume to its metrics: config, runner, results (API, CLI and plugin share it)."""

from ._analyze import Analysis, analyze
from ._config import AnalysisConfig, ConfigError, load_config

__all__ = ["Analysis", "AnalysisConfig", "ConfigError", "analyze", "load_config"]
