"""Runtime interfaces (stylizer, wct, generator, translator): the image handling around a bundle's graphs.

Each module here defines one interface's RuntimeModel and registers its spec beside it with
``@register_interface(SpecInstance)`` (runtime/interfaces.py); they are found by a package scan
(:func:`styleforge.runtime.discovery.import_children`), so adding an interface is adding a module
(template.py shows the smallest one).
"""
