"""URL pieces shared by the public and the district URLconfs."""
from django.http import JsonResponse
from django.urls import path
from django.views.i18n import set_language

from kernel.api import error_body
from kernel.health import readiness
from portal import favicon


def json_or_page(status: int, code: str, message_en: str, message_zh: str):
    def view(request, exception=None):
        from tenants.middleware import error_response

        if request.path.startswith("/api/"):
            return JsonResponse(error_body(status, code, message_en), status=status)
        if status == 404:  # a standard a module mounts at the root may answer in its own format
            from modules.urls import root_handler404

            handler = root_handler404(request.path)
            if handler is not None:
                return handler(request, exception)
        if status == 404 and getattr(exception, "key", None) and _module_off(exception):
            return _module_off_page(request, exception.key)
        return error_response(request, status, code, message_zh, message_en)

    return view


def _module_off(exception) -> bool:
    from modules.middleware import ModuleOff

    return isinstance(exception, ModuleOff)


def _module_off_page(request, key: str):
    from modules.catalog import catalog
    from tenants.middleware import error_response

    spec = catalog.get(key)
    name_zh, name_en = (spec.name_zh, spec.name_en) if spec else (key, key)
    return error_response(request, 404, "module_off", "本区暂未开通此服务", "This service is not offered here",
                          f"「{name_zh}」未在本区开通，请返回首页使用其他服务。",
                          f"{name_en} is not available in this district. Go back to the home page for its services.")


handler400 = json_or_page(400, "bad_request", "Bad request", "请求有误")
handler403 = json_or_page(403, "forbidden", "You are not allowed to do this", "您没有权限执行此操作")
handler404 = json_or_page(404, "not_found", "Not found", "页面不存在")
handler500 = json_or_page(500, "server_error", "Something went wrong on our side. It has been logged.",
                          "服务器出错了，我们已记录")

common = [
    # Liveness (/health/) is answered by kernel.middleware.HealthMiddleware before any database work.
    # Readiness: the database answers (else 503); Redis (cache, broker) down is "degraded" with 200.
    path("ready/", readiness, name="ready"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("favicon.svg", favicon.favicon_svg, name="favicon-svg"),
    path("favicon.ico", favicon.favicon_ico, name="favicon-ico"),
    path("apple-touch-icon.png", favicon.touch_icon, name="touch-icon"),
]
