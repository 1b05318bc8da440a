"""The API as dpoctl calls it: one requests session with the key, errors raised as
CliError carrying the server's own message."""

import requests

USER_AGENT = "dpoctl/1"


class CliError(Exception):
    """A failure to report in one line and exit 1."""

    def __init__(self, message, code=""):
        super().__init__(message)
        self.code = code


class ApiClient:
    def __init__(self, base_url, api_key, account, timeout=60):
        if not api_key:
            raise CliError(
                "No API key: pass --api-key or set DPO_API_KEY (create a key on the "
                "portal's API keys page)."
            )
        if not account:
            raise CliError("No account: pass --account or set DPO_ACCOUNT.")
        self.base_url = base_url.rstrip("/")
        self.account = account
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {api_key}"
        self.session.headers["User-Agent"] = USER_AGENT

    def url(self, path):
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/v1/accounts/{self.account}{path}"

    def call(self, method, path, expect_json=True, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = self.session.request(method, self.url(path), **kwargs)
        except requests.RequestException as exc:
            raise CliError(
                f"Cannot reach the portal at {self.base_url}: {exc}"
            ) from None
        if response.status_code >= 400:
            raise _error_of(response)
        return response.json() if expect_json else response

    def get(self, path, **kwargs):
        return self.call("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.call("POST", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.call("DELETE", path, **kwargs)

    def pages(self, path, key, params=None, limit=None):
        """Every item of a paged list, following nextPageToken."""
        params = dict(params or {})
        items = []
        while True:
            answer = self.get(path, params=params)
            items += answer[key]
            token = answer.get("nextPageToken")
            if not token or (limit and len(items) >= limit):
                return items[:limit] if limit else items
            params["pageToken"] = token


def _error_of(response):
    try:
        error = response.json()["error"]
        message = error["message"]
        code = error.get("code", "")
    except (ValueError, KeyError, TypeError):
        return CliError(f"HTTP {response.status_code} from {response.url}")
    return CliError(f"{code}: {message}", code)
