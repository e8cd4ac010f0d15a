# steps: patch main


class Settings(BaseModel):
    """What the service is told. Settings(...) takes only the values it is
    given (tests build one so); Settings.from_env() reads the environment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = Field(9090, ge=1, le=65535)
    echo: bool = False

    @classmethod
    def from_env(cls) -> "Settings":
        """The MARKETSVC_ variables, checked; SettingsError names a bad one."""
        try:
            return cls(**dict(_FromEnvironment()))
        except ValidationError as exc:
            raise SettingsError(describe(exc)) from None

    def replace(self, **changes) -> "Settings":
        """A copy with some values changed, checked like the originals."""
        return Settings(**{**dict(self), **changes})
# steps: delete from typing
