"""The embedded binder: a pure-Python AFB binder (asyncio + aiohttp), the default host."""
