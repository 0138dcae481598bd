"""Case photos and videos: checked by content, stripped of location and camera data, stored under the
district's prefix, limited, served only to people who may see the case; nothing left behind on failure."""
from __future__ import annotations

import datetime as dt
import io
import re
import struct
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DataError, connection
from django.utils import timezone
from django.utils.functional import empty
from django_tenants.utils import tenant_context
from PIL import ExifTags, Image

from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.models import AuditEntry
from kernel.services import update_module_config
from modules.cases import services
from modules.cases.intake import uploads
from modules.cases.models import Attachment, Case
from modules.catalog import catalog
from tests.cases.conftest import T0
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
BASE = "/api/v1/cases/"
GPS = {1: "N", 2: (22.0, 30.0, 0.0), 3: "E", 4: (114.0, 0.0, 0.0)}
SECRETS = (b"SnoopCam", b"Spy 3000", b"Exif", b"xmpmeta", b"+22.5")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    if default_storage._wrapped is not empty:  # django-tenants caches the media root
        default_storage._wrapped.__dict__.pop("relative_media_root", None)
    return tmp_path


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


# --- real files -------------------------------------------------------------------------------------

def camera_exif(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SnoopCam"  # Make
    exif[0x0110] = "Spy 3000"  # Model
    exif[0x0112] = orientation
    exif[ExifTags.IFD.GPSInfo] = GPS  # 0x8825
    return exif.tobytes()


XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Make="SnoopCam"/></rdf:RDF></x:xmpmeta>')


def photo(fmt: str = "JPEG", size=(64, 48), color="red", orientation: int = 1, **extra) -> bytes:
    buf = io.BytesIO()
    image = Image.new("RGB", size, color)
    image.paste((0, 0, 255), (0, 0, 16, 16))  # a blue top-left corner shows which way is up
    if fmt in ("JPEG", "WEBP"):
        extra.setdefault("xmp", XMP)
    image.save(buf, fmt, exif=camera_exif(orientation), **extra)
    return buf.getvalue()


def heic() -> bytes:
    buf = io.BytesIO()
    try:
        Image.new("RGB", (64, 48), "green").save(buf, "HEIF", exif=camera_exif(), quality=80)
    except (KeyError, OSError, ValueError) as exc:  # no HEVC encoder in this libheif
        pytest.skip(f"HEIC encoding unsupported here: {exc}")
    return buf.getvalue()


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def full_box(kind: bytes, payload: bytes, version: int = 0) -> bytes:
    return box(kind, bytes([version, 0, 0, 0]) + payload)


IDENTITY = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def mp4(*, mdat_size: int = 64, brand: bytes = b"isom", location: bytes = b"+22.5000+114.0000/") -> bytes:
    """A small but well-formed MP4: ftyp, moov (movie header, one video track 320x240, user data
    with a ©xyz location, make and model, Apple-style meta keys) and media data."""
    tkhd = full_box(b"tkhd", struct.pack(">5I", 0, 0, 1, 0, 0) + bytes(8) + struct.pack(">hhhH", 0, 0, 0, 0)
                    + IDENTITY + struct.pack(">II", 320 << 16, 240 << 16))
    hdlr = full_box(b"hdlr", struct.pack(">I4s", 0, b"vide") + bytes(12) + b"VideoHandler\x00")
    minf = box(b"minf", full_box(b"vmhd", bytes(8)) + box(b"stbl", full_box(b"stco", struct.pack(">II", 1, 0))))
    trak = box(b"trak", tkhd + box(b"mdia", full_box(b"mdhd", bytes(20)) + hdlr + minf))
    udta = box(b"udta", box(b"\xa9xyz", struct.pack(">HH", len(location), 0x15c7) + location)
               + box(b"\xa9mak", struct.pack(">HH", 8, 0) + b"SnoopCam") + box(b"\xa9mod", struct.pack(">HH", 8, 0)
                                                                                + b"Spy 3000"))
    meta = full_box(b"meta", full_box(b"hdlr", struct.pack(">I4s", 0, b"mdta") + bytes(12) + b"\x00")
                    + box(b"keys", struct.pack(">I", 1) + box(b"mdta", b"com.apple.quicktime.location.ISO6709"))
                    + box(b"ilst", box(struct.pack(">I", 1), box(b"data", struct.pack(">II", 1, 0) + location))))
    moov = box(b"moov", full_box(b"mvhd", bytes(96)) + trak + udta + meta)
    return box(b"ftyp", brand + struct.pack(">I", 0x200) + b"isommp41") + moov + box(b"mdat", b"\x07" * mdat_size)


def top_boxes(data: bytes) -> list[tuple[bytes, int]]:
    out, pos = [], 0
    while pos < len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        out.append((kind, size))
        pos += size
    assert pos == len(data)
    return out


def upload(name: str, data: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def set_config(**changes):
    update_module_config(actor=None, module_key="cases", data=catalog["cases"].default_config() | changes)


def report(w, *, actor="reporter", title="楼道堆物") -> Case:
    """A snap report of household h1 (dispatched to gw1); ``actor=None``: an anonymous one."""
    return services.submit_case(actor=w.reporter if actor == "reporter" else actor, channel="snap",
                                category="corridor_clutter", title=title, household=w.places["h1"], now=T0)


def read_stored(attachment: Attachment) -> bytes:
    with attachment.file.open("rb") as f:
        return f.read()


# --- checked by content, cleaned ----------------------------------------------------------------------

def test_photos_are_re_encoded_upright_without_location_or_camera_data(in_district, media):
    w = in_district
    case = report(w)
    files = [upload("a.jpg", photo("JPEG", orientation=6), "image/jpeg"), upload("b.png", photo("PNG")),
             upload("c.webp", photo("WEBP")), upload("d.heic", heic(), "image/heic")]
    for f in files:  # the originals do carry the data that must go
        assert b"SnoopCam" in f.read()
    prepared = uploads.prepare(files)
    assert [p.content_type for p in prepared] == ["image/jpeg", "image/png", "image/webp", "image/jpeg"]
    assert prepared[0].bytes is prepared[0].data
    rows = uploads.attach(actor=w.reporter, case=case, prepared=prepared, now=T0)
    assert [r.file.name.rsplit(".", 1)[1] for r in rows] == ["jpg", "png", "webp", "jpg"]
    for row in rows:
        data = read_stored(row)
        for secret in SECRETS:
            assert secret not in data, (row.content_type, secret)
        image = Image.open(io.BytesIO(data))
        assert not image.getexif() and not image.getexif().get_ifd(0x8825)
        assert not {"exif", "xmp", "icc_profile", "XML:com.adobe.xmp"} & set(image.info)
        assert image.format == {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}[row.content_type]
        assert row.kind == "photo" and row.size == len(data) and row.uploaded_by == w.reporter
        assert re.fullmatch(r"cases/[0-9a-f]{32}\.(jpg|png|webp)", row.file.name)  # nothing of the uploader's name
        assert (media / connection.schema_name / row.file.name).is_file()  # under the district's prefix
    assert (rows[0].width, rows[0].height) == (48, 64)  # EXIF orientation 6 applied before it was dropped
    assert Image.open(io.BytesIO(read_stored(rows[0]))).getpixel((40, 8))[2] > 200  # the blue corner turned right
    assert (rows[1].width, rows[1].height) == (64, 48)
    entry = AuditEntry.objects.get(action="cases.attach")
    assert entry.target_id == str(case.pk) and len(entry.after["files"]) == 4


def test_large_photos_are_scaled_to_2560_on_the_long_side(in_district):
    prepared = uploads.prepare([upload("big.jpg", photo("JPEG", size=(4000, 1000)))])[0]
    assert (prepared.width, prepared.height) == (2560, 640)
    assert Image.open(io.BytesIO(prepared.data)).size == (2560, 640)


def test_content_wins_over_name_and_browser_type(in_district):
    with pytest.raises(DomainError) as bad:
        uploads.prepare([upload("notes.jpg", b"just some text, not a photo\n" * 20, "image/jpeg")])
    message = "notes.jpg: not a JPEG, PNG, WebP, HEIC photo or an MP4 video."
    assert bad.value.message == message and bad.value.fields == {"files": [message]}
    svg = upload("logo.png", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "image/png")
    truncated = upload("cut.jpg", photo("JPEG", size=(300, 300), color="blue")[:400], "image/jpeg")
    with pytest.raises(DomainError) as bad:
        uploads.prepare([svg, truncated, upload("empty.jpg", b"")])
    assert bad.value.fields["files"] == [
        "logo.png: not a JPEG, PNG, WebP, HEIC photo or an MP4 video.",
        "cut.jpg: the file is damaged or incomplete; take or save it again.",
        "empty.jpg: the file is empty."]
    png_as_video = uploads.prepare([upload("clip.mp4", photo("PNG"), "video/mp4")])[0]
    assert (png_as_video.content_type, png_as_video.kind) == ("image/png", "photo")
    video_as_photo = uploads.prepare([upload("IMG_1.JPG", mp4(), "image/jpeg")])[0]
    assert (video_as_photo.content_type, video_as_photo.kind) == ("video/mp4", "video")
    no_picture = mp4().replace(b"vide", b"soun")
    with pytest.raises(DomainError) as bad:
        uploads.prepare([upload("voice.mp4", no_picture)])
    assert bad.value.fields["files"] == ["voice.mp4: not a playable MP4 video (no picture track); record it again."]
    with pytest.raises(DomainError) as bad:
        uploads.prepare([upload("short.mp4", mp4()[:-10])])  # media data cut off
    assert "short.mp4: the file is damaged" in bad.value.message


def test_the_video_keeps_its_layout_and_loses_its_location(in_district):
    w = in_district
    case = report(w)
    original = mp4()
    prepared = uploads.prepare([upload("VID_0001.mp4", original, "video/mp4")])[0]
    assert (prepared.content_type, prepared.kind, prepared.width, prepared.height) == ("video/mp4", "video", 320, 240)
    row = uploads.attach(actor=w.reporter, case=case, prepared=[prepared], now=T0)[0]
    data = read_stored(row)
    assert len(data) == len(original)  # nothing moved: chunk offsets stay right
    for secret in (b"\xa9xyz", b"+22.5000+114.0000/", b"SnoopCam", b"Spy 3000", b"ISO6709", b"udta"):
        assert secret in original and secret not in data
    assert data.endswith(b"\x07" * 64)  # the media data is untouched
    assert [kind for kind, _size in top_boxes(data)] == [b"ftyp", b"moov", b"mdat"]
    moov = data[data.index(b"moov") - 4:]
    assert b"trak" in moov and b"tkhd" in moov and b"free" in moov
    rotated = uploads.prepare([upload("v.mp4", original.replace(IDENTITY, struct.pack(
        ">9I", 0, 0x10000, 0, 0xFFFF0000, 0, 0, 0, 0, 0x40000000)))])[0]
    assert (rotated.width, rotated.height) == (240, 320)  # a phone held upright
    quicktime = uploads.prepare([upload("IMG_0002.MOV", mp4(brand=b"qt  "), "video/quicktime")])[0]
    assert quicktime.content_type == "video/mp4" and b"ISO6709" not in quicktime.data


def test_limits_sizes_and_counts(in_district, media):
    set_config(max_video_mb=1)
    with pytest.raises(DomainError) as bad:
        uploads.prepare([upload("long.mp4", mp4(mdat_size=1024 * 1024 + 1))])
    assert bad.value.fields["files"] == ["long.mp4: a video may be at most 1 MB; record a shorter one."]
    assert uploads.prepare([upload("ok.mp4", mp4(mdat_size=1000 * 1000))])[0].size > 1000 * 1000
    with pytest.raises(DomainError) as bad:
        uploads.prepare([upload(f"{i}.jpg", photo(color=(i, 0, 0))) for i in range(10)])
    assert bad.value.message == "Send at most 9 photos or videos at a time."
    with pytest.raises(DomainError) as bad:
        uploads.prepare([upload("1.mp4", mp4()), upload("2.mp4", mp4(mdat_size=65))])
    assert "one video at most" in bad.value.fields["files"][0]
    assert len(uploads.prepare([upload("x.jpg", photo()), upload("y.jpg", photo())], max_files=2)) == 2
    too_big = upload("huge.jpg", photo())
    too_big.size = uploads.MAX_PHOTO_BYTES + 1  # what Django measured of the request body
    with pytest.raises(DomainError) as bad:
        uploads.prepare([too_big])
    assert bad.value.fields["files"] == ["huge.jpg: a photo may be at most 15 MB."]
    assert stored_files(media) == []


def test_a_case_keeps_nine_files_and_one_video_per_stage_and_same_file_once(in_district):
    w = in_district
    case = report(w)
    first = uploads.attach(actor=w.reporter, case=case, now=T0,
                           prepared=uploads.prepare([upload(f"{i}.jpg", photo(color=(i * 20, 0, 0))) for i in range(5)]))
    again = uploads.attach(actor=w.reporter, case=case, now=T0, prepared=uploads.prepare(
        [upload("0-again.jpg", photo(color=(0, 0, 0)))] * 2))  # the same photo, twice in one go too
    assert [a.pk for a in again] == [first[0].pk]
    assert Attachment.objects.filter(case=case).count() == 5
    four = uploads.prepare([upload(f"n{i}.jpg", photo(color=(0, i * 20 + 10, 0))) for i in range(4)])
    uploads.attach(actor=w.reporter, case=case, prepared=four, now=T0)
    with pytest.raises(DomainError) as bad:
        uploads.attach(actor=w.reporter, case=case, now=T0, prepared=uploads.prepare([upload("10.png", photo("PNG"))]))
    assert "at most 9 photos and videos for its report; 0 more can be added" in bad.value.message
    other = report(w, title="又堆了")
    uploads.attach(actor=w.reporter, case=other, prepared=uploads.prepare([upload("v.mp4", mp4())]), now=T0)
    with pytest.raises(DomainError) as bad:
        uploads.attach(actor=w.reporter, case=other, prepared=uploads.prepare([upload("w.mp4", mp4(mdat_size=70))]))
    assert bad.value.message == "A case keeps one video for its report."
    assert Attachment.objects.filter(case=other).count() == 1


def test_who_may_attach_and_when(in_district):
    w = in_district
    case = report(w)  # dispatched to gw1
    pics = uploads.prepare([upload("p.jpg", photo())])
    with pytest.raises(NotAllowed):
        uploads.attach(actor=w.other_resident, case=case, prepared=pics)
    with pytest.raises(NotAllowed):
        uploads.attach(actor=w.gw1, case=case, prepared=pics)  # a handler adds result photos, not report ones
    with pytest.raises(NotAllowed):
        uploads.attach(actor=w.reporter, case=case, prepared=pics, stage="result")
    with pytest.raises(Conflict) as early:
        uploads.attach(actor=w.gw1, case=case, prepared=pics, stage="result")  # not accepted yet
    assert early.value.code == "wrong_status"
    services.accept_case(actor=w.gw1, case=case, now=T0)
    with pytest.raises(NotAllowed):
        uploads.attach(actor=w.gw2, case=case, prepared=pics, stage="result")
    assert uploads.attach(actor=w.gw1, case=case, prepared=pics, stage="result")[0].stage == "result"
    assert uploads.attach(actor=w.staff_c1, case=case, stage="result",
                          prepared=uploads.prepare([upload("q.png", photo("PNG"))]))[0].uploaded_by == w.staff_c1
    services.resolve_case(actor=w.gw1, case=case, result="已清理", now=T0)
    uploads.attach(actor=w.gw1, case=case, stage="result", prepared=uploads.prepare([upload("r.webp", photo("WEBP"))]))
    with pytest.raises(Conflict):  # the case is no longer open for report photos
        uploads.attach(actor=w.reporter, case=case, prepared=pics)
    with pytest.raises(DomainError):
        uploads.attach(actor=w.reporter, case=case, prepared=pics, stage="other")
    anonymous = report(w, actor=None)
    assert anonymous.reporter_id is None
    with pytest.raises(NotAllowed):
        uploads.attach(actor=None, case=anonymous, prepared=pics)
    row = uploads.attach(actor=None, case=anonymous, prepared=pics, trusted=True)[0]
    assert row.uploaded_by is None
    assert AuditEntry.objects.filter(action="cases.attach", target_id=str(anonymous.pk), actor=None).exists()


def test_nothing_is_left_behind_when_storing_fails(in_district, media):
    w = in_district
    case = report(w)
    good = uploads.prepare([upload("a.jpg", photo()), upload("b.png", photo("PNG"))])
    broken = uploads.Prepared(data=b"x", content_type="image/" + "x" * 40, kind="photo", width=1, height=1,
                              sha256="0" * 64, size=1)  # the row cannot be saved (content type too long)
    with pytest.raises(DataError):
        uploads.attach(actor=w.reporter, case=case, prepared=[*good, broken], now=T0)
    assert Attachment.objects.count() == 0 and stored_files(media) == []
    assert not AuditEntry.objects.filter(action="cases.attach").exists()

    # A caller's larger transaction (create the case and attach its photos) that fails later.
    with pytest.raises(RuntimeError), uploads.atomic():
        made = report(w, title="带照片的上报")
        uploads.attach(actor=w.reporter, case=made, prepared=good, now=T0)
        assert len(stored_files(media)) == 2
        raise RuntimeError("the view failed after attaching")
    assert not Case.objects.filter(title="带照片的上报").exists()
    assert Attachment.objects.count() == 0 and stored_files(media) == []

    # Whatever a crash still leaves behind is swept once old enough.
    orphan = default_storage.save("cases/orphan.jpg", io.BytesIO(b"x"))
    kept = uploads.attach(actor=w.reporter, case=case, prepared=good, now=T0)
    assert uploads.sweep_orphan_files() == 0  # too young
    assert uploads.sweep_orphan_files(now=timezone.now() + dt.timedelta(days=1)) == 1
    assert not default_storage.exists(orphan) and all(default_storage.exists(a.file.name) for a in kept)


# --- the API --------------------------------------------------------------------------------------------

def api_case(w) -> int:
    made = client_for(w.district, w.reporter).post(BASE, {"category": "corridor_clutter", "title": "楼道堆物",
                                                          "household": w.places["h1"].pk}, format="json")
    assert made.status_code == 201, made.content
    return made.json()["id"]


def test_upload_list_and_serve_through_the_api(world, media):
    w, d = world, world.district
    pk = api_case(w)
    reporter, other, worker = client_for(d, w.reporter), client_for(d, w.other_resident), client_for(d, w.gw1)
    url = f"{BASE}{pk}/attachments/"
    sent = reporter.post(url, {"files": [upload("IMG_1.jpg", photo("JPEG"), "image/jpeg"),
                                         upload("VID_1.mp4", mp4(), "video/mp4")], "stage": "report"},
                         format="multipart")
    assert sent.status_code == 201, sent.content
    results = sent.json()["results"]
    assert [r["content_type"] for r in results] == ["image/jpeg", "video/mp4"]
    assert results[0]["url"] == f"{url}{results[0]['id']}/" and results[0]["uploaded_by"] == "reporter"
    bad = reporter.post(url, {"files": [upload("notes.jpg", b"hello", "image/jpeg"), upload("ok.png", photo("PNG"))]},
                        format="multipart")
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"] == {"files": ["notes.jpg: not a JPEG, PNG, WebP, HEIC photo or an MP4 video."]}
    assert reporter.post(url, {"stage": "report"}, format="multipart").status_code == 400
    assert other.post(url, {"files": [upload("x.jpg", photo())]}, format="multipart").status_code == 404
    assert reporter.post(url, {"files": [upload("x.jpg", photo())], "stage": "result"},
                         format="multipart").status_code == 403
    assert worker.post(url, {"files": [upload("x.jpg", photo())], "stage": "result"},
                       format="multipart").status_code == 409  # accept first
    assert worker.post(f"{BASE}{pk}/accept/", {}, format="json").status_code == 200
    done = worker.post(url, {"files": [upload("done.webp", photo("WEBP"))], "stage": "result"}, format="multipart")
    assert done.status_code == 201 and done.json()["results"][0]["stage"] == "result"
    assert client_for(d).post(url, {"files": [upload("x.jpg", photo())]}, format="multipart").status_code in (401, 403)

    listed = reporter.get(url)
    assert listed.status_code == 200 and [r["stage"] for r in listed.json()["results"]] == ["report", "report",
                                                                                            "result"]
    assert [r["kind"] for r in reporter.get(url + "?kind=video").json()["results"]] == ["video"]
    for outsider in (other, client_for(d, w.gw2), client_for(d, w.staff_c2)):
        assert outsider.get(url).status_code == 404
    assert client_for(d).get(url).status_code in (401, 403)

    photo_url, video_url = results[0]["url"], results[1]["url"]
    with tenant_context(d):
        stored = read_stored(Attachment.objects.get(pk=results[0]["id"]))
        stored_video = read_stored(Attachment.objects.get(pk=results[1]["id"]))
    for viewer in (reporter, worker, client_for(d, w.staff_c1), client_for(d, w.admin)):
        got = viewer.get(photo_url, HTTP_ACCEPT="image/avif,image/webp,image/*,*/*;q=0.8")
        assert got.status_code == 200 and b"".join(got.streaming_content) == stored
        assert got["Content-Type"] == "image/jpeg" and got["X-Content-Type-Options"] == "nosniff"
        assert got["Cache-Control"].startswith("private")
    for outsider in (other, client_for(d, w.gw2)):
        assert outsider.get(photo_url).status_code == 404
    assert client_for(d).get(photo_url).status_code in (401, 403)
    assert reporter.get(f"{url}999999/").status_code == 404
    other_pk = api_case(w)  # an attachment id under another case's URL is not found either
    assert reporter.get(f"{BASE}{other_pk}/attachments/{results[0]['id']}/").status_code == 404

    video = reporter.get(video_url, HTTP_ACCEPT="video/*")
    body = b"".join(video.streaming_content)
    assert video["Content-Type"] == "video/mp4" and body == stored_video
    assert b"\xa9xyz" not in body and b"+22.5000+114.0000/" not in body
    part = reporter.get(video_url, HTTP_RANGE="bytes=0-15")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 0-15/{len(stored_video)}"
    assert b"".join(part.streaming_content) == stored_video[:16]
    tail = reporter.get(video_url, HTTP_RANGE="bytes=-8")
    assert b"".join(tail.streaming_content) == stored_video[-8:]
    assert reporter.get(video_url, HTTP_RANGE=f"bytes={len(stored_video)}-").status_code == 416
    assert reporter.get(video_url, HTTP_IF_NONE_MATCH=video["ETag"]).status_code == 304


def test_attachment_url_helper_names_the_api_route(in_district):
    w = in_district
    case = report(w)
    row = uploads.attach(actor=w.reporter, case=case, prepared=uploads.prepare([upload("a.jpg", photo())]))[0]
    assert uploads.attachment_url(row) == f"/api/v1/cases/{case.pk}/attachments/{row.pk}/"
