"""Runtime interfaces (stylizer, wct, generator, translator): the image handling around a bundle's graphs.

Each module here registers one interface with ``@register_interface(name)`` (runtime/model.py); they
are found by a package scan (:func:`styleforge.runtime.discovery.import_children`), so adding an
interface is adding a module.
"""
