from ninja import Router

router = Router(tags=["screening"])
field_router = Router(tags=["field submissions"])
