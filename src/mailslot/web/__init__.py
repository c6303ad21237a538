"""The web layer: translates HTTP into service calls for the source, staff and API interfaces."""
