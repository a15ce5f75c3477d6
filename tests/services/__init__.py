"""Real brokers for the test suite: Apache Kafka (KRaft) and RabbitMQ, on loopback.

The test command starts them by itself on a fresh machine (installing or downloading
what is missing), through the session fixtures in ``tests/conftest.py``; a developer can
also run them by hand::

    python -m tests.services start kafka     # or amqp, or all
    python -m tests.services status
    python -m tests.services stop all

Set ``SYNCAPI_TEST_KAFKA_URL`` / ``SYNCAPI_TEST_AMQP_URL`` to point the tests at brokers
that are already running instead.
"""
