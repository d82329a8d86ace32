"""The emulator as a server: lifecycle, request records, faults, JWKS."""

from __future__ import annotations

import time
from typing import Any

import boto3
import botocore.exceptions
import jwt
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config

from fsm_auth.emulator import Emulator, Fault, Provisioned, RequestRecord


def test_stop_refuses_connections_and_restart_keeps_port_and_state(
    emulator: Emulator, idp: Any, pool: Provisioned, user: str
) -> None:
    port = emulator.port
    emulator.stop()
    assert not emulator.running
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        idp.initiate_auth(
            ClientId=pool.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": user, "PASSWORD": "Passw0rd!"},
        )
    emulator.start()
    assert emulator.running
    assert emulator.port == port
    answer = idp.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user, "PASSWORD": "Passw0rd!"},
    )
    assert "AccessToken" in answer["AuthenticationResult"]


def test_requests_are_recorded_and_counted(emulator: Emulator, idp: Any, pool: Provisioned) -> None:
    emulator.reset_requests()
    idp.sign_up(ClientId=pool.client_id, Username="rec", Password="Passw0rd!")
    with pytest.raises(idp.exceptions.CodeMismatchException):
        idp.confirm_sign_up(ClientId=pool.client_id, Username="rec", ConfirmationCode="x")
    assert emulator.requests == [
        RequestRecord("cognito-idp", "SignUp", 200),
        RequestRecord("cognito-idp", "ConfirmSignUp", 400),
    ]
    assert emulator.count("ConfirmSignUp") == 1
    assert emulator.count(service="cognito-idp") == 2
    assert emulator.count(service="s3") == 0


def test_fault_error_document_counts_and_expires(
    emulator: Emulator, idp: Any, pool: Provisioned, user: str
) -> None:
    emulator.reset_requests()
    fault = emulator.faults.inject(
        Fault(
            operation="InitiateAuth",
            times=1,
            error=("NotAuthorizedException", "Invalid login token", 400),
        )
    )
    params = {"USERNAME": user, "PASSWORD": "Passw0rd!"}
    with pytest.raises(idp.exceptions.NotAuthorizedException, match="Invalid login token"):
        idp.initiate_auth(
            ClientId=pool.client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=params
        )
    idp.initiate_auth(ClientId=pool.client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=params)
    assert fault.hits == 1
    assert [r.status for r in emulator.requests] == [400, 200]


@pytest.mark.parametrize(
    ("fault", "code", "status"),
    [
        (Fault(status=500), "InternalErrorException", 500),
        (Fault(throttle=True), "TooManyRequestsException", 400),
    ],
)
def test_fault_status_and_throttle(
    emulator: Emulator, idp: Any, pool: Provisioned, fault: Fault, code: str, status: int
) -> None:
    emulator.faults.inject(fault)
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        idp.sign_up(ClientId=pool.client_id, Username="f", Password="Passw0rd!")
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    emulator.faults.clear()
    idp.sign_up(ClientId=pool.client_id, Username="f", Password="Passw0rd!")


def test_fault_delay_then_passes(emulator: Emulator, idp: Any, pool: Provisioned) -> None:
    emulator.faults.inject(Fault(operation="SignUp", delay=0.3))
    started = time.monotonic()
    idp.sign_up(ClientId=pool.client_id, Username="slow", Password="Passw0rd!")
    assert time.monotonic() - started >= 0.3


def test_fault_drop_closes_the_connection(emulator: Emulator, idp: Any, pool: Provisioned) -> None:
    emulator.reset_requests()
    emulator.faults.inject(Fault(service="cognito-idp", drop=True, times=1))
    with pytest.raises(
        (botocore.exceptions.ConnectionClosedError, botocore.exceptions.EndpointConnectionError)
    ):
        idp.sign_up(ClientId=pool.client_id, Username="drop", Password="Passw0rd!")
    assert emulator.requests[0].operation == "SignUp"
    idp.sign_up(ClientId=pool.client_id, Username="drop", Password="Passw0rd!")


def test_fault_needs_exactly_one_action() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Fault(status=500, drop=True)
    with pytest.raises(ValueError, match="exactly one"):
        Fault(operation="GetId")


def test_jwks_served_recorded_and_verifies_tokens(
    emulator: Emulator, pool: Provisioned, tokens: dict[str, Any]
) -> None:
    emulator.reset_requests()
    answer = requests.get(f"{emulator.url}/{pool.user_pool_id}/.well-known/jwks.json", timeout=5)
    assert answer.status_code == 200
    assert emulator.requests == [RequestRecord("jwks", "GetJwks", 200)]
    keys = {k["kid"]: jwt.PyJWK(k) for k in answer.json()["keys"]}
    token = tokens["IdToken"]
    key = keys[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(token, key=key, algorithms=["RS256"], audience=pool.client_id)
    assert claims["iss"] == f"https://cognito-idp.{pool.region}.amazonaws.com/{pool.user_pool_id}"
    assert claims["token_use"] == "id"


def test_admin_client_and_configuration_shapes(emulator: Emulator, pool: Provisioned) -> None:
    admin = emulator.admin_client()
    described = admin.describe_user_pool(UserPoolId=pool.user_pool_id)["UserPool"]
    assert described["Id"] == pool.user_pool_id
    config = pool.aws_configuration()
    user_pool = config["CognitoUserPool"]["Default"]
    assert user_pool["Endpoint"] == emulator.url
    assert user_pool["AppClientId"] == pool.client_id
    assert "AppClientSecret" not in user_pool
    identity = config["CredentialsProvider"]["CognitoIdentity"]["Default"]
    assert identity == {
        "PoolId": pool.identity_pool_id,
        "Region": "us-east-1",
        "Endpoint": emulator.url,
    }
    assert config["Auth"]["Default"]["authenticationFlowType"] == "USER_SRP_AUTH"
    outputs = pool.amplify_outputs()
    assert outputs["auth"]["user_pool_client_id"] == pool.client_id
    assert outputs["auth"]["identity_pool_id"] == pool.identity_pool_id


def test_client_secret_appears_in_config_not_in_repr(emulator: Emulator) -> None:
    pool = emulator.provision(client_secret=True, with_identity_pool=False, bucket=None)
    assert pool.client_secret
    assert pool.aws_configuration()["CognitoUserPool"]["Default"]["AppClientSecret"] == (
        pool.client_secret
    )
    assert pool.client_secret not in repr(pool)
    assert "CredentialsProvider" not in pool.aws_configuration()


def test_s3_bucket_through_emulator(emulator: Emulator, pool: Provisioned) -> None:
    s3 = emulator.admin_client("s3")
    s3.put_object(Bucket=pool.bucket, Key="hello.txt", Body=b"hi")
    assert s3.get_object(Bucket=pool.bucket, Key="hello.txt")["Body"].read() == b"hi"
    assert emulator.count("PutObject", "s3") >= 1


def test_unsigned_client_without_retries_is_used_for_faults(emulator: Emulator) -> None:
    # Guard for the tests above: the standard retry mode would hide a single injected fault.
    client = boto3.client(
        "cognito-idp",
        region_name="us-east-1",
        endpoint_url=emulator.url,
        config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}),
    )
    assert client.meta.config.retries["total_max_attempts"] == 1


def test_importing_the_package_does_not_import_moto() -> None:
    import subprocess
    import sys

    code = (
        "import sys, fsm_auth, fsm_auth.emulator\n"
        "from fsm_auth.emulator import FakeClock, Fault, SentCode\n"
        "assert 'moto' not in sys.modules, 'moto imported'\n"
        "from fsm_auth.emulator import Emulator\n"
        "assert 'moto' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_provision_needs_a_known_port() -> None:
    with pytest.raises(RuntimeError, match="start the emulator"):
        Emulator().provision()


def test_fault_answer_replaces_the_real_answer(emulator: Emulator) -> None:
    idp = emulator.admin_client()
    emulator.reset_requests()
    emulator.faults.inject(
        Fault(operation="ListUserPools", times=1, answer={"UserPools": [{"Id": "impostor"}]})
    )
    assert idp.list_user_pools(MaxResults=10)["UserPools"] == [{"Id": "impostor"}]
    # One request only: the next one is answered by the emulator again.
    assert all(p["Id"] != "impostor" for p in idp.list_user_pools(MaxResults=10)["UserPools"])
    assert emulator.count("ListUserPools") == 2


def test_an_answer_is_an_action_too() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Fault(answer={}, drop=True)


def test_request_records_keep_the_json_parameters_out_of_the_repr(
    emulator: Emulator, pool: Provisioned
) -> None:
    idp = boto3.client(
        "cognito-idp",
        region_name=pool.region,
        endpoint_url=emulator.url,
        config=Config(signature_version=UNSIGNED),
    )
    emulator.reset_requests()
    with pytest.raises(botocore.exceptions.ClientError):
        idp.initiate_auth(
            ClientId=pool.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "nobody", "PASSWORD": "Sup3r-secret!"},
        )
    (record,) = emulator.requests
    assert record.operation == "InitiateAuth"
    assert record.params["AuthParameters"]["USERNAME"] == "nobody"
    assert "Sup3r-secret!" not in repr(record)
