"""The reference broker on Kafka's wire protocol: a thin asyncio adapter over the sans-I/O core."""
