#!/bin/sh
# Runs a class of Apache Kafka's jars: kafka-run-class.sh CLASS [ARGS...]
# (the local stand-in's small version of Kafka's own script).
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} -Djava.awt.headless=true \
  -Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.properties \
  -cp "/opt/kafka/libs/*" "$@"
