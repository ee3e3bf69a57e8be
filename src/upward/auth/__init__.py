from upward.auth.principal import Principal

__all__ = ["Principal"]
