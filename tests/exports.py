"""Write small CRM exports for tests, byte for byte as the CRMs do."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path


def write_csv(path: Path, header: list[str], rows: list[list | dict], *, encoding: str = "utf-8", bom: bool = False,
              newline: str = "\n", quote_all: bool = True) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL, lineterminator=newline)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h, "") for h in header] if isinstance(row, dict) else row)
    data = buffer.getvalue().encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def zip_folder(folder: Path, zip_path: Path) -> Path:
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(folder.iterdir()):
            zf.write(file, f"export/{file.name}")
    return zip_path


SF = {
    "UserRole.csv": ["Id", "Name", "ParentRoleId"],
    "User.csv": ["Id", "Username", "FirstName", "LastName", "Email", "Title", "UserRoleId", "ManagerId", "IsActive"],
    "Account.csv": ["Id", "Name", "Industry", "Type", "NumberOfEmployees", "AnnualRevenue", "BillingCountry",
                    "BillingState", "ParentId", "OwnerId", "CreatedDate", "Health_Score__c"],
    "Contact.csv": ["Id", "AccountId", "FirstName", "LastName", "Title", "Department", "Email", "Phone", "ReportsToId", "OwnerId"],
    "Product2.csv": ["Id", "Name", "ProductCode", "Family", "IsActive"],
    "Opportunity.csv": ["Id", "Name", "AccountId", "OwnerId", "StageName", "Amount", "CurrencyIsoCode", "CreatedDate",
                        "CloseDate", "IsClosed", "IsWon", "LeadSource", "Type", "Probability", "ForecastCategoryName",
                        "Description", "Loss_Reason__c", "Competitor__c"],
    "OpportunityLineItem.csv": ["Id", "OpportunityId", "Product2Id", "Quantity", "UnitPrice", "TotalPrice"],
    "OpportunityHistory.csv": ["Id", "OpportunityId", "StageName", "Amount", "CloseDate", "Probability", "CreatedDate", "CreatedById"],
    "OpportunityContactRole.csv": ["Id", "OpportunityId", "ContactId", "Role", "IsPrimary"],
    "Task.csv": ["Id", "WhoId", "WhatId", "OwnerId", "Subject", "ActivityDate", "Status", "TaskSubtype", "CallType", "CreatedDate"],
    "Event.csv": ["Id", "WhoId", "WhatId", "OwnerId", "Subject", "ActivityDate", "StartDateTime", "EndDateTime", "Type"],
}


def small_salesforce_export(folder: Path) -> Path:
    """A tiny but complete Salesforce data export: 3 users in a role hierarchy, 3 accounts (a
    subsidiary listed before its parent), 4 contacts, 3 opportunities (won, lost, open)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = {
        "UserRole.csv": [["00E000000000001AAA", "VP Sales", ""], ["00E000000000002AAA", "East Manager", "00E000000000001AAA"]],
        "User.csv": [
            ["005000000000001AAA", "vera.vp", "Vera", "Voss", "vera@example.com", "VP Sales", "00E000000000001AAA", "", "true"],
            ["005000000000002AAA", "mark.mgr", "Mark", "Moss", "mark@example.com", "Manager", "00E000000000002AAA", "005000000000001AAA", "true"],
            ["005000000000003AAA", "rita.rep", "Rita", "Ross", "rita@example.com", "AE", "00E000000000002AAA", "005000000000002AAA", "true"],
        ],
        "Account.csv": [
            ["001000000000002AAA", "Globex Europe", "Manufacturing", "Customer", "1200", "50000000", "Germany", "",
             "001000000000001AAA", "005000000000003AAA", "2024-01-05T09:00:00.000Z", "72"],
            ["001000000000001AAA", "Globex Holdings", "Manufacturing", "Customer", "30000", "900000000", "United States", "OH",
             "", "005000000000003AAA", "2024-01-04T09:00:00.000Z", ""],
            ["001000000000003AAA", "Initech", "Technology", "Prospect", "80", "", "Japan", "", "", "005000000000002AAA",
             "2024-02-01T09:00:00.000Z", ""],
        ],
        "Contact.csv": [
            ["003000000000001AAA", "001000000000001AAA", "Hank", "Scorpio", "CEO", "Executive", "hank@globex.com", "", "", "005000000000003AAA"],
            ["003000000000002AAA", "001000000000001AAA", "Lisa", "Lin", "IT Director", "IT", "lisa@globex.com", "", "003000000000001AAA", "005000000000003AAA"],
            ["003000000000003AAA", "001000000000001AAA", "Ole", "Ortiz", "IT Analyst", "IT", "ole@globex.com", "", "003000000000002AAA", "005000000000003AAA"],
            ["003000000000004AAA", "001000000000003AAA", "Bill", "Lumbergh", "VP Ops", "", "bill@initech.com", "", "", "005000000000002AAA"],
        ],
        "Product2.csv": [["01t000000000001AAA", "Platform", "PLT", "Software", "true"],
                         ["01t000000000002AAA", "Services", "SRV", "Services", "true"]],
        "Opportunity.csv": [
            ["006000000000001AAA", "Globex platform", "001000000000001AAA", "005000000000003AAA", "Closed Won", "120000.00", "USD",
             "2024-02-01T10:00:00.000Z", "2024-05-30", "true", "true", "Web", "New Business", "100", "Closed", "Cut plant downtime", "", "Acme"],
            ["006000000000002AAA", "Globex EU services", "001000000000002AAA", "005000000000003AAA", "Closed Lost", "40000", "EUR",
             "2024-03-01T10:00:00.000Z", "2024-06-15", "true", "false", "RFP", "New Business", "0", "Omitted", "", "Price", ""],
            ["006000000000003AAA", "Initech rollout", "001000000000003AAA", "005000000000002AAA", "Proposal/Price Quote", "75000", "USD",
             "2024-09-01T10:00:00.000Z", "2025-01-31", "false", "false", "Partner Referral", "New Business", "75", "Pipeline",
             "Multi-line\ndescription, with a comma", "", ""],
        ],
        "OpportunityLineItem.csv": [["00k000000000001AAA", "006000000000001AAA", "01t000000000001AAA", "2", "50000", "100000"],
                                    ["00k000000000002AAA", "006000000000001AAA", "01t000000000002AAA", "1", "20000", "20000"]],
        "OpportunityHistory.csv": [
            ["008000000000001AAA", "006000000000001AAA", "Prospecting", "100000", "2024-05-01", "10", "2024-02-01T10:00:00.000Z", "005000000000003AAA"],
            ["008000000000002AAA", "006000000000001AAA", "Closed Won", "120000", "2024-05-30", "100", "2024-05-30T16:00:00.000Z", "005000000000003AAA"],
        ],
        "OpportunityContactRole.csv": [["00K000000000001AAA", "006000000000001AAA", "003000000000001AAA", "Decision Maker", "true"],
                                       ["00K000000000002AAA", "006000000000001AAA", "003000000000003AAA", "Business User", "false"]],
        "Task.csv": [
            ["00T000000000001AAA", "003000000000002AAA", "006000000000001AAA", "005000000000003AAA", "Discovery call", "2024-02-03",
             "Completed", "Call", "Inbound", "2024-02-03T10:00:00.000Z"],
            ["00T000000000002AAA", "00Q000000000001AAA", "001000000000001AAA", "005000000000003AAA", "Intro email", "2024-02-02",
             "Completed", "Email", "", "2024-02-02T10:00:00.000Z"],
        ],
        "Event.csv": [["00U000000000001AAA", "003000000000001AAA", "006000000000001AAA", "005000000000003AAA", "Exec meeting",
                       "2024-03-10", "2024-03-10T14:00:00.000Z", "2024-03-10T15:00:00.000Z", "Meeting"]],
    }
    for name, data in rows.items():
        write_csv(folder / name, SF[name], data)
    return folder
