"""Word lists for the generated demo organisation: people, companies, places, products, picklists.

Everything here is fictional. Lists are tuples so that the generator's choices, and so its
output, depend only on the seed.
"""

from __future__ import annotations

# ---- people ----------------------------------------------------------------------------------

FIRST_NAMES = (
    "Maria", "James", "Aisha", "Lukas", "Sofia", "Daniel", "Priya", "Oliver", "Chen", "Emma",
    "Mateo", "Hannah", "Kenji", "Fatima", "Noah", "Elena", "Samuel", "Ingrid", "Diego", "Chloe",
    "Arjun", "Laura", "Tomas", "Amara", "Henrik", "Grace", "Rafael", "Yuki", "Omar", "Julia",
    "Marco", "Nadia", "Peter", "Zoe", "Ahmed", "Clara", "Victor", "Leah", "Kofi", "Anna",
    "Ethan", "Mei", "Lars", "Isabel", "Ravi", "Sarah", "Pablo", "Freya", "Jonas", "Lucia",
    "David", "Amelie", "Hugo", "Nina", "Felix", "Rosa", "Adam", "Mila", "Ivan", "Alice",
    "Thomas", "Keiko", "Bruno", "Olivia", "Sven", "Carmen", "Luca", "Ayesha", "Michael", "Eva",
)

LAST_NAMES = (
    "Lopez", "Carter", "Khan", "Becker", "Rossi", "Nguyen", "Patel", "Brennan", "Wang", "Schmidt",
    "Garcia", "Kowalski", "Tanaka", "Haddad", "Fischer", "Moreau", "Okafor", "Lindqvist", "Silva", "Dubois",
    "Sharma", "Jensen", "Novak", "Mensah", "Andersen", "Murphy", "Costa", "Sato", "Farouk", "Weber",
    "Bianchi", "Petrova", "Walsh", "Meyer", "Hassan", "Vogel", "Morales", "Cohen", "Owusu", "Larsen",
    "Hughes", "Li", "Nilsson", "Romero", "Iyer", "Bennett", "Navarro", "Berg", "Keller", "Santos",
    "Reed", "Laurent", "Olsen", "Fernandez", "Wagner", "Ramos", "Kim", "Ivanova", "Clarke", "Baker",
    "Holm", "Suzuki", "Ferreira", "Ward", "Eriksson", "Ortiz", "Greco", "Malik", "Foster", "Hoffmann",
)

# ---- sales regions (teams) -------------------------------------------------------------------
# (team region, [(country, dialling code, legal suffix, [states or provinces])])
REGIONS = (
    ("North America East", (("United States", "1", "Inc.", ("New York", "Massachusetts", "Georgia", "Florida", "Pennsylvania", "Ohio", "North Carolina", "Virginia")),
                            ("Canada", "1", "Ltd.", ("Ontario", "Quebec", "Nova Scotia")))),
    ("EMEA North", (("United Kingdom", "44", "Ltd", ()), ("Germany", "49", "GmbH", ()), ("Netherlands", "31", "B.V.", ()),
                    ("Sweden", "46", "AB", ()), ("Denmark", "45", "A/S", ()), ("Ireland", "353", "Ltd", ()))),
    ("North America West", (("United States", "1", "Inc.", ("California", "Washington", "Texas", "Colorado", "Oregon", "Arizona", "Utah")),
                            ("Canada", "1", "Ltd.", ("British Columbia", "Alberta")))),
    ("APAC", (("Australia", "61", "Pty Ltd", ("New South Wales", "Victoria", "Queensland")), ("Japan", "81", "K.K.", ()),
              ("Singapore", "65", "Pte. Ltd.", ()), ("India", "91", "Pvt. Ltd.", ()), ("New Zealand", "64", "Ltd", ()))),
    ("EMEA South", (("France", "33", "SAS", ()), ("Spain", "34", "S.L.", ()), ("Italy", "39", "S.p.A.", ()),
                    ("Switzerland", "41", "AG", ()), ("Portugal", "351", "Lda.", ()))),
    ("LATAM", (("Brazil", "55", "Ltda.", ()), ("Mexico", "52", "S.A. de C.V.", ()), ("Chile", "56", "SpA", ()),
               ("Colombia", "57", "S.A.S.", ()), ("Argentina", "54", "S.A.", ()))),
)

# ---- accounts --------------------------------------------------------------------------------
# (Salesforce Industry picklist value, weight, revenue per employee in USD, name nouns)
INDUSTRIES = (
    ("Manufacturing", 14, 260_000, ("Industries", "Manufacturing", "Components", "Fabrication", "Precision")),
    ("Technology", 12, 330_000, ("Systems", "Software", "Labs", "Digital", "Networks")),
    ("Healthcare", 9, 180_000, ("Health", "Medical", "Care", "Clinics", "Diagnostics")),
    ("Banking", 7, 420_000, ("Bank", "Capital", "Financial", "Trust")),
    ("Insurance", 5, 380_000, ("Insurance", "Assurance", "Mutual")),
    ("Retail", 9, 210_000, ("Retail", "Stores", "Outfitters", "Markets")),
    ("Transportation", 6, 240_000, ("Logistics", "Freight", "Transport", "Shipping")),
    ("Energy", 5, 520_000, ("Energy", "Power", "Renewables", "Utilities")),
    ("Telecommunications", 4, 450_000, ("Telecom", "Communications", "Connect")),
    ("Food & Beverage", 6, 230_000, ("Foods", "Beverages", "Farms", "Kitchens")),
    ("Chemicals", 4, 480_000, ("Chemicals", "Materials", "Polymers")),
    ("Construction", 5, 250_000, ("Construction", "Builders", "Engineering")),
    ("Education", 4, 120_000, ("Academy", "Learning", "University")),
    ("Consulting", 5, 200_000, ("Consulting", "Advisors", "Partners")),
    ("Media", 3, 300_000, ("Media", "Studios", "Publishing")),
    ("Biotechnology", 2, 400_000, ("Biosciences", "Therapeutics", "Genomics")),
)

NAME_WORDS = (
    "Northwind", "Blue Harbor", "Summit", "Granite", "Apex", "Silverline", "Redwood", "Meridian", "Crescent", "Ironbridge",
    "Lakeside", "Pioneer", "Evergreen", "Bright", "Cobalt", "Harbor Point", "Sterling", "Oakridge", "Horizon", "Falcon",
    "Westbrook", "Clearwater", "Keystone", "Vertex", "Riverstone", "Highland", "Aurora", "Beacon", "Cedar", "Quantum",
    "Atlas", "Union", "Silver Peak", "Brookfield", "Orion", "Pacific", "Nordic", "Alpine", "Cascade", "Sunrise",
    "Fairview", "Greenfield", "Stonegate", "Triton", "Vanguard", "Whitestone", "Zenith", "Ashford", "Bayview", "Coral",
    "Delta", "Eastgate", "Foxglove", "Goldcrest", "Hillcrest", "Ivory", "Juniper", "Kestrel", "Lumen", "Maple",
)

# (size band, weight, employees low, employees high, amount median USD, sales cycle median days,
#  units low/high, contacts per unit low/high, activity weight, chance the deal picks this account)
SIZES = (
    ("small", 34, 10, 49, 9_000, 32, 2, 3, 1, 2, 0.6, 0.35),
    ("medium", 34, 50, 249, 26_000, 55, 2, 4, 1, 3, 1.0, 0.6),
    ("large", 22, 250, 999, 72_000, 88, 3, 5, 2, 4, 1.4, 0.85),
    ("enterprise", 10, 1000, 60_000, 190_000, 135, 4, 6, 3, 5, 2.0, 1.0),
)

ACCOUNT_TYPES = (("Customer - Direct", 44), ("Prospect", 36), ("Customer - Channel", 12), ("Channel Partner / Reseller", 4), ("Other", 4))

UNITS = ("Finance", "Operations", "IT", "Sales", "Marketing", "HR", "Manufacturing", "Procurement",
         "Supply Chain", "Customer Service", "R&D", "Legal")
# Units an industry is likely to buy in (tried first), the rest follow.
INDUSTRY_UNITS = {
    "Manufacturing": ("Manufacturing", "Operations", "Supply Chain", "Finance", "IT", "Procurement"),
    "Technology": ("R&D", "IT", "Sales", "Customer Service", "Finance", "Marketing"),
    "Healthcare": ("Operations", "Finance", "IT", "HR", "Customer Service", "Procurement"),
    "Banking": ("Finance", "IT", "Operations", "Legal", "Customer Service", "Sales"),
    "Insurance": ("Finance", "Customer Service", "IT", "Operations", "Legal", "Sales"),
    "Retail": ("Sales", "Supply Chain", "Marketing", "Operations", "Finance", "IT"),
    "Transportation": ("Operations", "Supply Chain", "Finance", "IT", "Customer Service", "HR"),
    "Energy": ("Operations", "Finance", "IT", "Procurement", "Legal", "HR"),
    "Telecommunications": ("IT", "Customer Service", "Sales", "Marketing", "Finance", "Operations"),
    "Food & Beverage": ("Manufacturing", "Supply Chain", "Sales", "Operations", "Finance", "Marketing"),
    "Chemicals": ("Manufacturing", "R&D", "Operations", "Procurement", "Finance", "Legal"),
    "Construction": ("Operations", "Procurement", "Finance", "HR", "IT", "Legal"),
    "Education": ("IT", "Finance", "HR", "Operations", "Marketing", "Legal"),
    "Consulting": ("Sales", "Finance", "HR", "IT", "Marketing", "Operations"),
    "Media": ("Marketing", "Sales", "IT", "Finance", "Operations", "Legal"),
    "Biotechnology": ("R&D", "Operations", "Finance", "IT", "Legal", "Procurement"),
}

# Titles per unit. The head of a unit, by account size band (small, medium, large, enterprise):
# from "Head of" in a small company to the C-level in an enterprise; mid-level managers report
# to the head, staff to a manager.
HEAD_TITLES = {
    "Finance": ("Head of Finance", "VP Finance", "SVP Finance", "Chief Financial Officer"),
    "Operations": ("Head of Operations", "VP Operations", "SVP Operations", "Chief Operating Officer"),
    "IT": ("Head of IT", "VP Information Technology", "SVP Technology", "Chief Information Officer"),
    "Sales": ("Head of Sales", "VP Sales", "SVP Sales", "Chief Revenue Officer"),
    "Marketing": ("Head of Marketing", "VP Marketing", "SVP Marketing", "Chief Marketing Officer"),
    "HR": ("Head of People", "VP Human Resources", "SVP Human Resources", "Chief People Officer"),
    "Manufacturing": ("Head of Manufacturing", "VP Manufacturing", "SVP Manufacturing", "Chief Manufacturing Officer"),
    "Procurement": ("Head of Procurement", "VP Procurement", "SVP Procurement", "Chief Procurement Officer"),
    "Supply Chain": ("Head of Supply Chain", "VP Supply Chain", "SVP Supply Chain", "Chief Supply Chain Officer"),
    "Customer Service": ("Head of Customer Service", "VP Customer Experience", "SVP Customer Experience",
                         "Chief Customer Officer"),
    "R&D": ("Head of R&D", "VP Engineering", "SVP Research & Development", "Chief Technology Officer"),
    "Legal": ("Head of Legal", "VP Legal", "Deputy General Counsel", "General Counsel"),
}
MID_TITLES = {
    "Finance": ("Finance Director", "Controller", "FP&A Manager"),
    "Operations": ("Director of Operations", "Operations Manager", "Process Excellence Lead"),
    "IT": ("IT Director", "Enterprise Architect", "Infrastructure Manager"),
    "Sales": ("Sales Director", "Sales Operations Manager", "Regional Sales Manager"),
    "Marketing": ("Marketing Director", "Digital Marketing Manager", "Brand Manager"),
    "HR": ("HR Director", "Talent Manager", "HR Business Partner"),
    "Manufacturing": ("Plant Manager", "Production Director", "Quality Manager"),
    "Procurement": ("Procurement Director", "Category Manager", "Sourcing Manager"),
    "Supply Chain": ("Logistics Director", "Planning Manager", "Warehouse Manager"),
    "Customer Service": ("Customer Service Director", "Contact Center Manager", "Support Manager"),
    "R&D": ("R&D Director", "Product Manager", "Lab Manager"),
    "Legal": ("Contracts Manager", "Compliance Manager", "Senior Counsel"),
}
STAFF_TITLES = {
    "Finance": ("Financial Analyst", "Accountant", "Billing Specialist"),
    "Operations": ("Operations Analyst", "Process Engineer", "Operations Coordinator"),
    "IT": ("Systems Administrator", "Business Analyst", "Data Engineer"),
    "Sales": ("Sales Operations Analyst", "Account Manager", "Sales Coordinator"),
    "Marketing": ("Marketing Specialist", "Marketing Analyst", "Content Manager"),
    "HR": ("HR Specialist", "Recruiter", "Payroll Analyst"),
    "Manufacturing": ("Production Planner", "Quality Engineer", "Maintenance Supervisor"),
    "Procurement": ("Buyer", "Procurement Analyst", "Vendor Coordinator"),
    "Supply Chain": ("Demand Planner", "Logistics Coordinator", "Inventory Analyst"),
    "Customer Service": ("Support Specialist", "Service Analyst", "Team Lead"),
    "R&D": ("Research Scientist", "Software Engineer", "Test Engineer"),
    "Legal": ("Paralegal", "Compliance Analyst", "Contracts Specialist"),
}

# ---- products --------------------------------------------------------------------------------
# (name, code, family, list price)
PRODUCTS = (
    ("Core Platform - Standard", "PLT-STD", "Platform", 12_000),
    ("Core Platform - Enterprise", "PLT-ENT", "Platform", 45_000),
    ("Integration Hub", "PLT-INT", "Platform", 15_000),
    ("Analytics Suite", "ANL-STE", "Analytics", 20_000),
    ("Forecasting Add-on", "ANL-FCT", "Analytics", 8_000),
    ("Data Connectors Pack", "ANL-CON", "Analytics", 5_000),
    ("Implementation Services", "SVC-IMP", "Services", 25_000),
    ("Training Package", "SVC-TRN", "Services", 4_000),
    ("Custom Integration", "SVC-CST", "Services", 18_000),
    ("Premier Support", "SUP-PRM", "Support", 9_000),
    ("Standard Support", "SUP-STD", "Support", 3_000),
    ("Customer Success Plan", "SUP-CSP", "Support", 6_000),
)
# The lead product of a deal, by account size band: indexes into PRODUCTS.
LEAD_PRODUCTS = ((0, 3, 2, 4), (0, 3, 2, 1, 4), (1, 3, 2, 0, 8), (1, 3, 2, 8))
ADD_ON_PRODUCTS = (6, 7, 9, 10, 11, 5, 4)

# ---- opportunities ---------------------------------------------------------------------------
STAGES = (
    # (name, probability %, forecast category)
    ("Prospecting", "10", "Pipeline"),
    ("Qualification", "10", "Pipeline"),
    ("Needs Analysis", "20", "Pipeline"),
    ("Value Proposition", "50", "Pipeline"),
    ("Id. Decision Makers", "60", "Pipeline"),
    ("Perception Analysis", "70", "Pipeline"),
    ("Proposal/Price Quote", "75", "Best Case"),
    ("Negotiation/Review", "90", "Commit"),
    ("Closed Won", "100", "Closed"),
    ("Closed Lost", "0", "Omitted"),
)
WON, LOST = 8, 9
PROPOSAL = 6
# The furthest stage a lost deal reached before it was lost: early losses are the most common.
LOST_AT_WEIGHTS = (12, 20, 16, 13, 10, 8, 12, 9)

# (LeadSource, weight, base win rate)
LEAD_SOURCES = (
    ("Web", 20, 0.27),
    ("Phone Inquiry", 7, 0.32),
    ("Partner Referral", 11, 0.40),
    ("Purchased List", 9, 0.13),
    ("Other", 6, 0.22),
    ("Employee Referral", 5, 0.36),
    ("External Referral", 8, 0.38),
    ("Advertisement", 7, 0.19),
    ("Trade Show", 11, 0.24),
    ("RFP", 6, 0.125),  # unsolicited blind RFPs: won 10-15% of the time
)

NEW_TYPES = ("New Customer",)
EXISTING_TYPES = ("Existing Customer - Upgrade", "Existing Customer - Upgrade", "Existing Customer - Replacement",
                  "Existing Customer - Downgrade")
NAME_KINDS_NEW = ("New Business", "Pilot", "Initial Rollout", "Evaluation")
NAME_KINDS_EXISTING = ("Expansion", "Upgrade", "Renewal + Upsell", "Additional Seats", "Phase 2")

LOSS_REASONS = ("Price", "Lost to Competitor", "No Decision / Non-Responsive", "Timing", "Budget", "Product Fit",
                "Stayed with Incumbent", "Champion Left")
EARLY_LOSS_REASONS = ("Not Qualified", "No Budget", "No Decision / Non-Responsive", "Timing")

# Customer challenges by unit; descriptions mention one.
CHALLENGES = {
    "Finance": ("month-end close takes 12 days and forecasts miss by 20%", "no single view of margin by customer",
                "manual revenue recognition across three ERPs"),
    "Operations": ("unplanned downtime costs 4% of output", "no visibility of order status across sites",
                   "process costs rising faster than volume"),
    "IT": ("legacy integrations break with every release", "shadow IT and duplicate tools across divisions",
           "security audit findings on data access"),
    "Sales": ("pipeline reviews rely on spreadsheets", "win rates falling against a new low-cost competitor",
              "reps spend 30% of their time on reporting"),
    "Marketing": ("cannot attribute pipeline to campaigns", "lead response times of several days",
                  "fragmented customer data across regions"),
    "HR": ("attrition of 18% in frontline roles", "onboarding takes three months", "no skills data for workforce planning"),
    "Manufacturing": ("scrap rates above target on two lines", "quality issues found too late in production",
                      "capacity planning done in spreadsheets"),
    "Procurement": ("maverick spend outside contracts", "supplier risk not monitored", "long purchase-order cycle times"),
    "Supply Chain": ("stock-outs while inventory grows", "carrier costs up 15% year on year",
                     "demand forecasts updated only monthly"),
    "Customer Service": ("customer churn rising after support incidents", "first-contact resolution below 60%",
                         "no self-service channel"),
    "R&D": ("product launches slipping by a quarter", "test data scattered across labs", "slow regulatory submissions"),
    "Legal": ("contract review bottleneck delays deals", "compliance reporting is manual", "no clause library"),
}

# ---- contact roles ---------------------------------------------------------------------------
DM_ROLES = ("Decision Maker", "Economic Decision Maker", "Economic Buyer")
MID_ROLES = ("Influencer", "Evaluator", "Technical Buyer")
STAFF_ROLES = ("Business User", "Evaluator", "Influencer")
GATEKEEPER_ROLES = ("Influencer", "Evaluator", "Other")
SINGLE_ROLES = ("Evaluator", "Influencer", "Business User", "Decision Maker")

# ---- activities ------------------------------------------------------------------------------
CALL_SUBJECTS = ("Call", "Discovery call", "Check-in call", "Follow-up call", "Call: next steps")
EMAIL_SUBJECTS = ("Email: Follow-up", "Email: Meeting recap", "Email: Proposal", "Email: Pricing", "Email: Case study")
TODO_SUBJECTS = ("Send proposal", "Prepare business case", "Send references", "Update mutual action plan", "Prepare demo")
# Meeting subjects along the deal's journey (by the share of the deal's life already gone).
MEETING_SUBJECTS = ("Discovery meeting", "Needs workshop", "Product demo", "Stakeholder meeting", "Executive briefing",
                    "Proposal review", "Negotiation meeting")
ACCOUNT_CALL_SUBJECTS = ("Account check-in", "Quarterly business review prep", "Renewal check-in", "Introduction call")
ACCOUNT_MEETING_SUBJECTS = ("Quarterly business review", "Account planning session", "Customer visit", "Executive sponsor meeting")
