"""A check the Keras losses and metrics tests share."""


def assert_config_round_trips(instance, keras_module):
    """``instance`` rebuilt from its config, and through Keras' own (de)serialization (as when
    a saved model is loaded; ``keras_module`` is ``keras.losses`` or ``keras.metrics``), has
    the same type and config. Returns ``(rebuilt, restored)`` to compare their results."""
    config = instance.get_config()
    rebuilt = type(instance).from_config(config)
    assert rebuilt.get_config() == config
    restored = keras_module.deserialize(keras_module.serialize(instance))
    assert type(restored) is type(instance) and restored.get_config() == config
    return rebuilt, restored
