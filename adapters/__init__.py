"""The bundled LoRA trainer and the adapter manifests it writes."""
