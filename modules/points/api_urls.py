from django.urls import include, path

from modules.points import api

urlpatterns = [
    path("me/", api.Me.as_view(), name="me"),
    path("rules/", api.Rules.as_view(), name="rules"),
    path("rules/<slug:code>/", api.RuleDetail.as_view(), name="rule"),
    path("rules/<slug:code>/revise/", api.RuleRevise.as_view(), name="rule-revise"),
    path("ranking/", api.Ranking.as_view(), name="ranking"),
    path("entries/", api.Entries.as_view(), name="entries"),
    path("entries/<int:pk>/", api.EntryDetail.as_view(), name="entry"),
    path("entries/<int:pk>/reverse/", api.EntryReverse.as_view(), name="entry-reverse"),
    path("proposals/", api.Proposals.as_view(), name="proposals"),
    path("proposals/<int:pk>/", api.ProposalDetail.as_view(), name="proposal"),
    path("proposals/<int:pk>/approve/", api.ProposalApprove.as_view(), name="proposal-approve"),
    path("proposals/<int:pk>/reject/", api.ProposalReject.as_view(), name="proposal-reject"),
    path("proposals/<int:pk>/withdraw/", api.ProposalWithdraw.as_view(), name="proposal-withdraw"),
    path("appeals/", api.Appeals.as_view(), name="appeals"),
    path("appeals/<int:pk>/", api.AppealDetail.as_view(), name="appeal"),
    path("appeals/<int:pk>/uphold/", api.AppealUphold.as_view(), name="appeal-uphold"),
    path("appeals/<int:pk>/refuse/", api.AppealRefuse.as_view(), name="appeal-refuse"),
    path("batches/", api.Batches.as_view(), name="batches"),
    path("batches/<int:pk>/", api.BatchDetail.as_view(), name="batch"),
    path("batches/<int:pk>/retry/", api.BatchRetry.as_view(), name="batch-retry"),
    path("", include("modules.points.benefit_api_urls")),  # providers, benefits, uses, honour list
]
