from kafka_eos.cli.main import console

console()
